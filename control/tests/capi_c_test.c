/* The C header must compile as C11 and link against libspan.a. */
#include <span/libspan.h>
#include <stdio.h>

int main(void)
{
	struct span_msg_hdr h = {0};
	struct span_member *m = NULL;

	h.magic = SPAN_MAGIC;
	h.version = SPAN_PROTO_VERSION;
	h.type = SPAN_MSG_HEARTBEAT;
	h.len = sizeof(h);
	h.dst = SPAN_MEMBER_SPAND;
	if (span_validate(&h, sizeof(h)) != SPAN_REJECT_SIZE)
		return 1;
	if (span_member_connect("/nonexistent/spand.sock", "vm", "m", 0, &m) >= 0)
		return 2;
	printf("ok %s\n", span_reject_str(SPAN_REJECT_SIZE));
	return 0;
}
