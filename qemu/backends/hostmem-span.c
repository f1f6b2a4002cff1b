/*
 * Span memory backend: guest RAM shared by every member of a span VM
 *
 * The span daemon (spand) owns the span VM's memory, a sealed memfd, and
 * hands it to every member (-span).  This backend maps it shared, so all
 * members' KVMs see the same guest-physical memory.  -span creates it
 * for the machine's RAM unless -machine memory-backend= names one.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "system/hostmem.h"
#include "system/span.h"

static bool span_backend_memory_alloc(HostMemoryBackend *backend,
                                      Error **errp)
{
    g_autofree char *name = host_memory_backend_get_name(backend);
    uint64_t size;
    int fd;

    if (!backend->share) {
        error_setg(errp, "memory-backend-span needs share=on");
        return false;
    }
    if (!span_memory(&fd, &size, errp)) {
        return false;
    }
    if (!backend->size || backend->size > size) {
        error_setg(errp, "guest RAM of %" PRIu64 " MiB does not fit in the "
                   "span VM's %" PRIu64 " MiB of memory",
                   backend->size / MiB, size / MiB);
        return false;
    }
    fd = dup(fd);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot duplicate the span memory fd");
        return false;
    }
    return memory_region_init_ram_from_fd(&backend->mr, OBJECT(backend), name,
                                          backend->size, RAM_SHARED, fd, 0,
                                          errp);
}

static void span_backend_instance_init(Object *obj)
{
    MEMORY_BACKEND(obj)->share = true;
}

static void span_backend_class_init(ObjectClass *oc, void *data)
{
    HostMemoryBackendClass *bc = MEMORY_BACKEND_CLASS(oc);

    bc->alloc = span_backend_memory_alloc;
}

static const TypeInfo span_backend_info = {
    .name = TYPE_MEMORY_BACKEND_SPAN,
    .parent = TYPE_MEMORY_BACKEND,
    .instance_init = span_backend_instance_init,
    .class_init = span_backend_class_init,
    .instance_size = sizeof(HostMemoryBackend),
};

static void register_types(void)
{
    type_register_static(&span_backend_info);
}

type_init(register_types);
