/*
 * span-pci: a Span VM's memory, channel and doorbells for a nested (L1)
 * hypervisor.
 *
 * An L1's QEMU cannot reach spand, which runs next to this (L0) QEMU.  The
 * device relays the L1's control messages to spand on a connection of its
 * own (validating each one: the L1 is not trusted), keeps the fds spand
 * hands over on HELLO_REPLY and exposes them as PCI resources:
 *
 *   BAR0  registers and the control mailbox (linux/span_pci.h)
 *   BAR1  MSI-X: vector 0 control messages, vector 1 own doorbell
 *   BAR2  the channel memfd, mapped as RAM while connected
 *   BAR4  the guest-memory memfd, mapped as RAM while connected (constant
 *         time: one mmap, no per-page work)
 *
 * A doorbell register write of slot N is an ioeventfd bound to spand's
 * doorbell eventfd of slot N, so kicks leave the L1 without L0 user space.
 * Documentation/span-pci.rst in the Span tree describes the interface.
 *
 * Copyright (c) 2026 The Span authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <span/libspan.h>
#include <linux/span_pci.h>
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/blocker.h"
#include "system/kvm.h"
#include "qom/object.h"

#define TYPE_SPAN_PCI "span-pci"
OBJECT_DECLARE_SIMPLE_TYPE(SpanPCIState, SPAN_PCI)

/* Messages from spand the L1 has not read yet; more means it is stuck. */
#define SPAN_PCI_RXQ_MAX 1024

struct SpanPCIState {
    PCIDevice parent_obj;

    char *socket;
    char *span;
    uint64_t window;
    uint64_t channel;

    MemoryRegion regs;
    MemoryRegion chan_bar;
    MemoryRegion window_bar;
    MemoryRegion chan_mr;
    MemoryRegion mem_mr;
    bool attached;

    int sock;
    int self_fd;
    EventNotifier self_en;      /* wraps self_fd for the irqfd */
    bool irqfd;                 /* property: own doorbell as KVM irqfd */
    bool vec_unmasked;          /* MSI-X vector 1 enabled and unmasked */
    bool irqfd_on;
    int virq;
    MSIMessage msg;
    uint32_t status;
    uint32_t member_id;
    uint32_t max_members;
    uint64_t mem_size;
    uint64_t chan_size;
    EventNotifier bells[SPAN_MAX_MEMBERS];
    bool bell_on[SPAN_MAX_MEMBERS];

    uint8_t *tx;
    int32_t tx_status;
    GQueue rxq;
    uint64_t rejected;
    uint64_t attach_ns;

    Error *migration_blocker;
};

static void span_pci_refuse(SpanPCIState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void span_pci_refuse(SpanPCIState *s, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    s->rejected++;
    qemu_log_mask(LOG_GUEST_ERROR, "span-pci %s: %s\n",
                  s->span ? s->span : "", msg);
}

static void span_pci_rx_push(SpanPCIState *s, const void *msg, size_t len)
{
    GByteArray *m = g_byte_array_sized_new(len);

    g_byte_array_append(m, msg, len);
    g_queue_push_tail(&s->rxq, m);
    s->status |= SPAN_PCI_ST_RX;
    if (g_queue_get_length(&s->rxq) == 1) {
        msix_notify(PCI_DEVICE(s), SPAN_PCI_VEC_CONTROL);
    }
}

static void span_pci_rx_clear(SpanPCIState *s)
{
    GByteArray *m;

    while ((m = g_queue_pop_head(&s->rxq))) {
        g_byte_array_unref(m);
    }
    s->status &= ~SPAN_PCI_ST_RX;
}

static void span_pci_detach(SpanPCIState *s)
{
    int i;

    if (s->sock >= 0) {
        qemu_set_fd_handler(s->sock, NULL, NULL, NULL);
        close(s->sock);
        s->sock = -1;
    }
    if (s->irqfd_on) {
        kvm_irqchip_remove_irqfd_notifier_gsi(kvm_state, &s->self_en,
                                              s->virq);
        s->irqfd_on = false;
    }
    if (s->self_fd >= 0) {
        qemu_set_fd_handler(s->self_fd, NULL, NULL, NULL);
        close(s->self_fd);
        s->self_fd = -1;
    }
    memory_region_transaction_begin();
    for (i = 0; i < SPAN_MAX_MEMBERS; i++) {
        if (s->bell_on[i]) {
            memory_region_del_eventfd(&s->regs, SPAN_PCI_REG_DOORBELL, 4,
                                      true, i, &s->bells[i]);
        }
    }
    if (s->attached) {
        memory_region_del_subregion(&s->window_bar, &s->mem_mr);
        memory_region_del_subregion(&s->chan_bar, &s->chan_mr);
    }
    memory_region_transaction_commit();
    for (i = 0; i < SPAN_MAX_MEMBERS; i++) {
        if (s->bell_on[i]) {
            event_notifier_cleanup(&s->bells[i]);
            s->bell_on[i] = false;
        }
    }
    if (s->attached) {
        /* The RAM blocks close spand's memfds once unused. */
        object_unparent(OBJECT(&s->mem_mr));
        object_unparent(OBJECT(&s->chan_mr));
        s->attached = false;
    }
    s->status &= ~SPAN_PCI_ST_CONNECTED;
    s->member_id = 0;
    s->max_members = 0;
    s->mem_size = 0;
    s->chan_size = 0;
}

/* spand went away or broke the protocol: the L1 sees a hang-up. */
static void span_pci_hang_up(SpanPCIState *s)
{
    span_pci_detach(s);
    s->status |= SPAN_PCI_ST_HUNG_UP;
    msix_notify(PCI_DEVICE(s), SPAN_PCI_VEC_CONTROL);
}

static void span_pci_sock_read(void *opaque)
{
    SpanPCIState *s = opaque;
    g_autofree uint8_t *buf = g_malloc(SPAN_MSG_MAX);
    struct span_msg_hdr h;
    ssize_t n;

    for (;;) {
        n = span_sock_recv(s->sock, buf, SPAN_MSG_MAX, NULL, 0, NULL, 0);
        if (n == -EAGAIN) {
            return;
        }
        if (n == -EBADMSG || n == -EMSGSIZE) {
            warn_report("span-pci: dropped an invalid message from spand");
            continue;
        }
        if (n < 0) {
            if (n != -ECONNRESET) {
                error_report("span-pci: spand connection: %s", strerror(-n));
            }
            span_pci_hang_up(s);
            return;
        }
        memcpy(&h, buf, sizeof(h));
        if (h.src != SPAN_MEMBER_SPAND) {
            warn_report("span-pci: dropped a message from spand with src %u",
                        h.src);
            continue;
        }
        if (g_queue_get_length(&s->rxq) >= SPAN_PCI_RXQ_MAX) {
            span_pci_refuse(s, "the L1 does not read its messages: "
                            "disconnecting");
            span_pci_hang_up(s);
            return;
        }
        span_pci_rx_push(s, buf, n);
    }
}

static void span_pci_doorbell(void *opaque)
{
    SpanPCIState *s = opaque;
    uint64_t v;

    if (read(s->self_fd, &v, sizeof(v)) == sizeof(v)) {
        msix_notify(PCI_DEVICE(s), SPAN_PCI_VEC_DOORBELL);
    }
}

/*
 * The own doorbell: an irqfd on L0's KVM while vector 1 is unmasked (a
 * peer's kick reaches the L1 without L0 user space), else the main loop
 * reads the eventfd and msix_notify() records it as pending.
 */
static void span_pci_irqfd_sync(SpanPCIState *s)
{
    PCIDevice *dev = PCI_DEVICE(s);
    bool want = s->irqfd && s->self_fd >= 0 && s->vec_unmasked;
    KVMRouteChange c;
    int virq;

    if (want && s->virq < 0) {
        c = kvm_irqchip_begin_route_changes(kvm_state);
        virq = kvm_irqchip_add_msi_route(&c, SPAN_PCI_VEC_DOORBELL, dev);
        if (virq < 0) {
            warn_report("span-pci: no KVM MSI route for the doorbell: "
                        "using the main loop");
            s->irqfd = false;
            want = false;
        } else {
            kvm_irqchip_commit_route_changes(&c);
            s->virq = virq;
        }
    }
    if (want && !s->irqfd_on) {
        if (kvm_irqchip_update_msi_route(kvm_state, s->virq, s->msg, dev) < 0) {
            return;
        }
        kvm_irqchip_commit_routes(kvm_state);
        qemu_set_fd_handler(s->self_fd, NULL, NULL, NULL);
        event_notifier_init_fd(&s->self_en, s->self_fd);
        if (kvm_irqchip_add_irqfd_notifier_gsi(kvm_state, &s->self_en, NULL,
                                               s->virq) < 0) {
            warn_report("span-pci: cannot add the doorbell irqfd: "
                        "using the main loop");
            s->irqfd = false;
            qemu_set_fd_handler(s->self_fd, span_pci_doorbell, NULL, s);
            return;
        }
        s->irqfd_on = true;
    } else if (!want && s->irqfd_on) {
        kvm_irqchip_remove_irqfd_notifier_gsi(kvm_state, &s->self_en,
                                              s->virq);
        s->irqfd_on = false;
        if (s->self_fd >= 0) {
            qemu_set_fd_handler(s->self_fd, span_pci_doorbell, NULL, s);
            span_pci_doorbell(s);
        }
    }
}

static int span_pci_vector_unmask(PCIDevice *dev, unsigned vector,
                                  MSIMessage msg)
{
    SpanPCIState *s = SPAN_PCI(dev);

    if (vector != SPAN_PCI_VEC_DOORBELL) {
        return 0;
    }
    s->msg = msg;
    s->vec_unmasked = true;
    if (s->irqfd_on) {
        kvm_irqchip_update_msi_route(kvm_state, s->virq, msg, dev);
        kvm_irqchip_commit_routes(kvm_state);
    }
    span_pci_irqfd_sync(s);
    return 0;
}

static void span_pci_vector_mask(PCIDevice *dev, unsigned vector)
{
    SpanPCIState *s = SPAN_PCI(dev);

    if (vector != SPAN_PCI_VEC_DOORBELL) {
        return;
    }
    s->vec_unmasked = false;
    span_pci_irqfd_sync(s);
}

static bool span_pci_fd_size_ok(int fd, uint64_t size)
{
    struct stat st;

    return fstat(fd, &st) == 0 && (uint64_t)st.st_size >= size;
}

/* Maps what spand sent; takes ownership of every fd. */
static int span_pci_attach(SpanPCIState *s, struct span_hello_reply *hr,
                           int *fds, size_t nr_fds)
{
    Error *err = NULL;
    int64_t t0 = get_clock();
    size_t i;
    int ret = -EPROTO;

    if (hr->mem_size > s->window || hr->chan_size > s->channel) {
        error_report("span-pci: span '%s' needs %" PRIu64 " MiB of memory and"
                     " %" PRIu64 " KiB of channel; the device has window=%"
                     PRIu64 " MiB, channel=%" PRIu64 " KiB", s->span,
                     (uint64_t)hr->mem_size / MiB,
                     (uint64_t)hr->chan_size / KiB,
                     s->window / MiB, s->channel / KiB);
        ret = -EFBIG;
        goto err;
    }
    if (!span_pci_fd_size_ok(fds[SPAN_FD_MEMORY], hr->mem_size) ||
        !span_pci_fd_size_ok(fds[SPAN_FD_CHANNEL], hr->chan_size)) {
        error_report("span-pci: spand's fds are smaller than announced");
        goto err;
    }
    memory_region_init_ram_from_fd(&s->mem_mr, OBJECT(s), "span-pci.mem",
                                   hr->mem_size, RAM_SHARED,
                                   fds[SPAN_FD_MEMORY], 0, &err);
    if (err) {
        error_report_err(err);
        goto err;
    }
    fds[SPAN_FD_MEMORY] = -1;
    memory_region_init_ram_from_fd(&s->chan_mr, OBJECT(s), "span-pci.chan",
                                   hr->chan_size, RAM_SHARED,
                                   fds[SPAN_FD_CHANNEL], 0, &err);
    if (err) {
        error_report_err(err);
        object_unparent(OBJECT(&s->mem_mr));
        goto err;
    }
    fds[SPAN_FD_CHANNEL] = -1;
    s->attached = true;

    memory_region_transaction_begin();
    memory_region_add_subregion(&s->window_bar, 0, &s->mem_mr);
    memory_region_add_subregion(&s->chan_bar, 0, &s->chan_mr);
    for (i = 0; i < hr->max_members; i++) {
        int fd = fds[SPAN_FD_DOORBELL0 + i];

        fds[SPAN_FD_DOORBELL0 + i] = -1;
        if (i == hr->member_id) {
            s->self_fd = fd;
            g_unix_set_fd_nonblocking(fd, true, NULL);
            continue;
        }
        event_notifier_init_fd(&s->bells[i], fd);
        memory_region_add_eventfd(&s->regs, SPAN_PCI_REG_DOORBELL, 4,
                                  true, i, &s->bells[i]);
        s->bell_on[i] = true;
    }
    memory_region_transaction_commit();
    qemu_set_fd_handler(s->self_fd, span_pci_doorbell, NULL, s);
    span_pci_irqfd_sync(s);

    s->member_id = hr->member_id;
    s->max_members = hr->max_members;
    s->mem_size = hr->mem_size;
    s->chan_size = hr->chan_size;
    s->status |= SPAN_PCI_ST_CONNECTED;
    s->attach_ns = get_clock() - t0;
    info_report("span-pci: joined span '%s' as slot %u: %" PRIu64 " MiB "
                "attached in %" PRIu64 " us, own doorbell via %s", s->span,
                s->member_id, s->mem_size / MiB, s->attach_ns / 1000,
                s->irqfd_on ? "irqfd" : "main loop");
    return 0;
err:
    for (i = 0; i < nr_fds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    return ret;
}

/* Queues a HELLO_REPLY carrying only an error for the L1. */
static void span_pci_hello_refused(SpanPCIState *s, int err)
{
    struct {
        struct span_msg_hdr h;
        struct span_hello_reply r;
    } m;
    struct span_msg_hdr req;

    memcpy(&req, s->tx, sizeof(req));
    span_msg_init(&m, SPAN_MSG_HELLO_REPLY, sizeof(m), SPAN_MEMBER_SPAND, 0);
    m.h.flags = SPAN_F_REPLY;
    m.h.seq = req.seq;
    m.r.version = SPAN_PROTO_VERSION;
    m.r.status = -err;
    span_pci_rx_push(s, &m, sizeof(m));
}

static int span_pci_hello(SpanPCIState *s, uint32_t len)
{
    struct span_hello hello;
    g_autofree uint8_t *buf = NULL;
    int fds[SPAN_FD_DOORBELL0 + SPAN_MAX_MEMBERS];
    struct span_hello_reply hr;
    size_t nr_fds = 0, i;
    ssize_t n = 0;
    int ret;

    if (s->sock >= 0) {
        span_pci_refuse(s, "HELLO while connected");
        return -EISCONN;
    }
    if (len < sizeof(struct span_msg_hdr) + sizeof(hello)) {
        return -EINVAL;
    }
    memcpy(&hello, s->tx + sizeof(struct span_msg_hdr), sizeof(hello));
    if (hello.role != SPAN_ROLE_MEMBER) {
        error_report("span-pci: refused a HELLO with role %u: an L1 may "
                     "only join span '%s' as a member", hello.role, s->span);
        s->rejected++;
        span_pci_hello_refused(s, EPERM);
        return 0;
    }
    /* span_validate() checked that the name is NUL-terminated. */
    if (strcmp(hello.vm_name, s->span) != 0) {
        error_report("span-pci: refused a HELLO for span '%s': this device "
                     "serves span '%s' only", hello.vm_name, s->span);
        s->rejected++;
        span_pci_hello_refused(s, EACCES);
        return 0;
    }
    s->status &= ~SPAN_PCI_ST_HUNG_UP;
    ret = span_sock_connect(s->socket);
    if (ret < 0) {
        error_report("span-pci: cannot connect to spand at %s: %s",
                     s->socket, strerror(-ret));
        span_pci_hello_refused(s, -ret);
        return 0;
    }
    s->sock = ret;
    ret = span_sock_send(s->sock, s->tx, len);
    buf = g_malloc(SPAN_MSG_MAX);
    if (!ret) {
        /* spand answers a HELLO at once; wait for it like a member would. */
        n = span_sock_recv(s->sock, buf, SPAN_MSG_MAX, fds, ARRAY_SIZE(fds),
                           &nr_fds, 5000);
        ret = n < 0 ? n : 0;
    }
    if (ret < 0) {
        error_report("span-pci: HELLO to spand failed: %s", strerror(-ret));
        goto fail;
    }
    memcpy(&hr, buf + sizeof(struct span_msg_hdr), sizeof(hr));
    if (((struct span_msg_hdr *)buf)->type != SPAN_MSG_HELLO_REPLY) {
        ret = -EPROTO;
        goto fail;
    }
    if (hr.status < 0) {
        span_pci_rx_push(s, buf, n);
        close(s->sock);
        s->sock = -1;
        for (i = 0; i < nr_fds; i++) {
            close(fds[i]);
        }
        return 0;
    }
    if (hr.max_members == 0 || nr_fds != hr.nr_fds ||
        nr_fds != SPAN_FD_DOORBELL0 + hr.max_members) {
        for (i = 0; i < nr_fds; i++) {
            close(fds[i]);
        }
        ret = -EPROTO;
        goto fail;
    }
    ret = span_pci_attach(s, &hr, fds, nr_fds);
    if (ret < 0) {
        goto fail;
    }
    /* The resources stay here; the L1 finds them in the device. */
    hr.nr_fds = 0;
    hr.flags |= SPAN_VM_IN_DEVICE;
    memcpy(buf + sizeof(struct span_msg_hdr), &hr, sizeof(hr));
    span_pci_rx_push(s, buf, n);
    qemu_set_fd_handler(s->sock, span_pci_sock_read, NULL, s);
    return 0;
fail:
    span_pci_detach(s);
    span_pci_hello_refused(s, -ret);
    return 0;
}

static int span_pci_send(SpanPCIState *s, uint32_t len)
{
    struct span_msg_hdr h;
    int r;

    if (len < sizeof(h) || len > SPAN_MSG_MAX) {
        span_pci_refuse(s, "message length %u", len);
        return -EINVAL;
    }
    r = span_validate(s->tx, len);
    if (r != SPAN_REJECT_NONE) {
        span_pci_refuse(s, "invalid message: %s", span_reject_str(r));
        return -EBADMSG;
    }
    memcpy(&h, s->tx, sizeof(h));
    if (h.type == SPAN_MSG_HELLO) {
        return span_pci_hello(s, len);
    }
    if (!(s->status & SPAN_PCI_ST_CONNECTED)) {
        span_pci_refuse(s, "%s before HELLO", span_msg_type_str(h.type));
        return -ENOTCONN;
    }
    if (h.src != s->member_id || h.dst != SPAN_MEMBER_SPAND) {
        span_pci_refuse(s, "%s from slot %u to %u: the L1 is slot %u and "
                        "speaks to spand only", span_msg_type_str(h.type),
                        h.src, h.dst, s->member_id);
        return -EPERM;
    }
    r = span_sock_send(s->sock, s->tx, len);
    if (r < 0) {
        span_pci_hang_up(s);
    }
    return r;
}

static uint64_t span_pci_read(void *opaque, hwaddr addr, unsigned size)
{
    SpanPCIState *s = opaque;
    GByteArray *m;
    uint64_t v = 0;

    if (addr >= SPAN_PCI_RX_BUF && addr < SPAN_PCI_RX_BUF + SPAN_MSG_MAX) {
        m = g_queue_peek_head(&s->rxq);
        addr -= SPAN_PCI_RX_BUF;
        if (m && addr + size <= m->len) {
            v = ldn_le_p(m->data + addr, size);
        }
        return v;
    }
    switch (addr) {
    case SPAN_PCI_REG_MAGIC:
        return SPAN_PCI_MAGIC;
    case SPAN_PCI_REG_VERSION:
        return SPAN_PCI_VERSION;
    case SPAN_PCI_REG_STATUS:
        return s->status;
    case SPAN_PCI_REG_MEMBER_ID:
        return s->member_id;
    case SPAN_PCI_REG_MEM_SIZE:
        v = s->mem_size;
        break;
    case SPAN_PCI_REG_MEM_SIZE + 4:
        return s->mem_size >> 32;
    case SPAN_PCI_REG_CHAN_SIZE:
        v = s->chan_size;
        break;
    case SPAN_PCI_REG_CHAN_SIZE + 4:
        return s->chan_size >> 32;
    case SPAN_PCI_REG_WINDOW:
        v = s->window;
        break;
    case SPAN_PCI_REG_WINDOW + 4:
        return s->window >> 32;
    case SPAN_PCI_REG_MAX_MEMBERS:
        return s->max_members;
    case SPAN_PCI_REG_TX_STATUS:
        return (uint32_t)s->tx_status;
    case SPAN_PCI_REG_RX_LEN:
        m = g_queue_peek_head(&s->rxq);
        return m ? m->len : 0;
    case SPAN_PCI_REG_REJECTED:
        return (uint32_t)s->rejected;
    case SPAN_PCI_REG_ATTACH_NS:
        v = s->attach_ns;
        break;
    case SPAN_PCI_REG_ATTACH_NS + 4:
        return s->attach_ns >> 32;
    default:
        return 0;
    }
    return size == 8 ? v : (uint32_t)v;
}

static void span_pci_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    SpanPCIState *s = opaque;
    GByteArray *m;

    if (addr >= SPAN_PCI_TX_BUF && addr < SPAN_PCI_TX_BUF + SPAN_MSG_MAX) {
        addr -= SPAN_PCI_TX_BUF;
        if (addr + size <= SPAN_MSG_MAX) {
            stn_le_p(s->tx + addr, size, val);
        }
        return;
    }
    switch (addr) {
    case SPAN_PCI_REG_TX_LEN:
        s->tx_status = span_pci_send(s, val);
        break;
    case SPAN_PCI_REG_RX_ACK:
        m = g_queue_pop_head(&s->rxq);
        if (m) {
            g_byte_array_unref(m);
        }
        if (g_queue_is_empty(&s->rxq)) {
            s->status &= ~SPAN_PCI_ST_RX;
        } else {
            msix_notify(PCI_DEVICE(s), SPAN_PCI_VEC_CONTROL);
        }
        break;
    case SPAN_PCI_REG_RESET:
        span_pci_detach(s);
        span_pci_rx_clear(s);
        s->status = 0;
        break;
    case SPAN_PCI_REG_DOORBELL:
        /* Handled by the ioeventfds; anything left rings no known slot. */
        span_pci_refuse(s, "doorbell of slot %" PRIu64 " (own slot %u, %u "
                        "slots)", val, s->member_id, s->max_members);
        break;
    default:
        span_pci_refuse(s, "write to read-only register 0x%" HWADDR_PRIx,
                        addr);
        break;
    }
}

static const MemoryRegionOps span_pci_regs_ops = {
    .read = span_pci_read,
    .write = span_pci_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

static void span_pci_realize(PCIDevice *dev, Error **errp)
{
    SpanPCIState *s = SPAN_PCI(dev);

    if (!s->span || !s->span[0] || strlen(s->span) >= SPAN_NAME_LEN) {
        error_setg(errp, "span-pci needs span=NAME (the span VM this L1 may "
                   "join, at most %d characters)", SPAN_NAME_LEN - 1);
        return;
    }
    if (!is_power_of_2(s->window) || s->window < 2 * MiB) {
        error_setg(errp, "span-pci: window must be a power of two of at "
                   "least 2 MiB");
        return;
    }
    if (!is_power_of_2(s->channel) || s->channel < 64 * KiB) {
        error_setg(errp, "span-pci: channel must be a power of two of at "
                   "least 64 KiB");
        return;
    }
    s->sock = -1;
    s->self_fd = -1;
    s->virq = -1;
    s->tx = g_malloc0(SPAN_MSG_MAX);
    g_queue_init(&s->rxq);

    memory_region_init_io(&s->regs, OBJECT(s), &span_pci_regs_ops, s,
                          "span-pci.regs", SPAN_PCI_REGS_SIZE);
    pci_register_bar(dev, SPAN_PCI_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->regs);
    if (msix_init_exclusive_bar(dev, SPAN_PCI_NR_VECTORS, SPAN_PCI_BAR_MSIX,
                                errp)) {
        return;
    }
    msix_vector_use(dev, SPAN_PCI_VEC_CONTROL);
    msix_vector_use(dev, SPAN_PCI_VEC_DOORBELL);
    s->irqfd = s->irqfd && kvm_msi_via_irqfd_enabled();
    if (s->irqfd &&
        msix_set_vector_notifiers(dev, span_pci_vector_unmask,
                                  span_pci_vector_mask, NULL) < 0) {
        s->irqfd = false;
    }

    memory_region_init(&s->chan_bar, OBJECT(s), "span-pci.channel-bar",
                       s->channel);
    pci_register_bar(dev, SPAN_PCI_BAR_CHANNEL,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->chan_bar);
    memory_region_init(&s->window_bar, OBJECT(s), "span-pci.window-bar",
                       s->window);
    pci_register_bar(dev, SPAN_PCI_BAR_WINDOW,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->window_bar);

    error_setg(&s->migration_blocker,
               "span-pci: the span's resources cannot migrate");
    if (migrate_add_blocker(&s->migration_blocker, errp) < 0) {
        msix_uninit_exclusive_bar(dev);
        return;
    }
}

static void span_pci_exit(PCIDevice *dev)
{
    SpanPCIState *s = SPAN_PCI(dev);

    span_pci_detach(s);
    span_pci_rx_clear(s);
    if (dev->msix_vector_use_notifier) {
        msix_unset_vector_notifiers(dev);
    }
    if (s->virq >= 0) {
        kvm_irqchip_release_virq(kvm_state, s->virq);
    }
    migrate_del_blocker(&s->migration_blocker);
    msix_uninit_exclusive_bar(dev);
    g_free(s->tx);
}

static void span_pci_reset(DeviceState *d)
{
    SpanPCIState *s = SPAN_PCI(d);

    span_pci_detach(s);
    span_pci_rx_clear(s);
    s->status = 0;
    s->tx_status = 0;
    msix_unuse_all_vectors(PCI_DEVICE(s));
    msix_vector_use(PCI_DEVICE(s), SPAN_PCI_VEC_CONTROL);
    msix_vector_use(PCI_DEVICE(s), SPAN_PCI_VEC_DOORBELL);
}

static const Property span_pci_properties[] = {
    DEFINE_PROP_STRING("socket", SpanPCIState, socket),
    DEFINE_PROP_STRING("span", SpanPCIState, span),
    DEFINE_PROP_SIZE("window", SpanPCIState, window, 1 * GiB),
    DEFINE_PROP_SIZE("channel", SpanPCIState, channel, 64 * MiB),
    DEFINE_PROP_BOOL("irqfd", SpanPCIState, irqfd, true),
};

static void span_pci_instance_init(Object *obj)
{
    SpanPCIState *s = SPAN_PCI(obj);

    s->socket = g_strdup(SPAN_DEFAULT_SOCKET);
}

static void span_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = span_pci_realize;
    k->exit = span_pci_exit;
    k->vendor_id = SPAN_PCI_VENDOR_ID;
    k->device_id = SPAN_PCI_DEVICE_ID;
    k->revision = SPAN_PCI_REVISION;
    k->class_id = PCI_CLASS_MEMORY_RAM;
    device_class_set_legacy_reset(dc, span_pci_reset);
    device_class_set_props(dc, span_pci_properties);
    dc->desc = "Span VM memory, channel and doorbells for an L1 hypervisor";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo span_pci_info = {
    .name = TYPE_SPAN_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SpanPCIState),
    .instance_init = span_pci_instance_init,
    .class_init = span_pci_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void span_pci_register_types(void)
{
    type_register_static(&span_pci_info);
}

type_init(span_pci_register_types)
