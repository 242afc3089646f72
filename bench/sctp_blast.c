/* sctp_blast: bulk SCTP over one one-to-one association, for bench/probe_overhead.py.
 *
 *   sctp_blast server ADDR PORT          accept one association, read until the peer closes, print bytes read
 *   sctp_blast client ADDR PORT SECONDS MSGSIZE   send MSGSIZE-byte messages for SECONDS, print bytes sent
 *
 * No libsctp needed: plain socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	static char buf[1 << 16];
	long long total = 0;
	int one = 1;

	if (argc < 4)
		return 2;
	sa.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1)
		return 2;
	int s = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	if (!strcmp(argv[1], "server")) {
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1)) {
			perror("bind/listen");
			return 1;
		}
		printf("READY\n");
		fflush(stdout);
		int c = accept(s, NULL, NULL);
		double t0 = 0;
		for (;;) {
			ssize_t n = recv(c, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			if (!t0)
				t0 = now();
			total += n;
		}
		printf("%lld %.6f\n", total, now() - t0);
		return 0;
	}
	if (argc < 6)
		return 2;
	double secs = atof(argv[4]);
	size_t msg = (size_t)atoi(argv[5]);
	if (msg > sizeof(buf))
		msg = sizeof(buf);
	memset(buf, 'b', msg);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	double t0 = now();
	while (now() - t0 < secs) {
		ssize_t n = send(s, buf, msg, 0);
		if (n < 0) {
			perror("send");
			return 1;
		}
		total += n;
	}
	printf("%lld %.6f\n", total, now() - t0);
	close(s);
	return 0;
}
