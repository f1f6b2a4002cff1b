/* The C header must compile as C11 and link against libspan.a. */
#include <span/libspan.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    struct span_msg_hdr h = {0};
    struct span_member *m = NULL;
    struct span_peer_stats ps = {0};
    int (*peer_stats)(const struct span_member *, uint32_t, struct span_peer_stats *, size_t) =
        span_member_peer_stats;
    void (*set_threshold)(struct span_member *, uint32_t) = span_member_set_report_threshold;
    uint32_t (*max_members)(const struct span_member *) = span_member_max_members;
    int (*ack)(struct span_member *, uint64_t, int32_t, uint64_t) = span_member_ack;
    struct span_peer_report pr = {0};

    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = SPAN_MSG_HEARTBEAT;
    h.len = sizeof(h);
    h.dst = SPAN_MEMBER_SPAND;
    if (span_validate(&h, sizeof(h)) != SPAN_REJECT_SIZE) return 1;
    if (span_member_connect("/nonexistent/spand.sock", "vm", "m", 0, &m) >= 0) return 2;
    if (!peer_stats || !set_threshold || !max_members || !ack || ps.rejected || sizeof(pr) != 32 ||
        sizeof(ps.by_reason) != SPAN_REJECT_MAX * sizeof(uint64_t))
        return 3;
    if (strcmp(span_msg_type_str(SPAN_MSG_PEER_REPORT), "peer-report")) return 4;
    /* The framing helpers: one header builder, a payload validator. */
    {
        struct {
            struct span_msg_hdr h;
            struct span_eoi e;
        } msg;
        struct span_eoi eoi = {.vector = 0x30};

        span_msg_init(&msg, SPAN_MSG_EOI, sizeof(msg), 1, 0);
        msg.e = eoi;
        if (span_validate(&msg, sizeof(msg)) != SPAN_REJECT_NONE ||
            span_validate_payload(SPAN_MSG_EOI, &eoi, sizeof(eoi)) != SPAN_REJECT_NONE)
            return 5;
        eoi.vector = 3;
        if (span_validate_payload(SPAN_MSG_EOI, &eoi, sizeof(eoi)) == SPAN_REJECT_NONE) return 6;
        if (span_sock_connect("/nonexistent/spand.sock") != -ENOENT) return 7;
    }
    printf("ok %s\n", span_reject_str(SPAN_REJECT_SIZE));
    return 0;
}
