#!/bin/sh
#
# Waits up to 5 s for a Redis to answer PING, then prints its answer:
#	shell -match PONG {sh ${testdir}/lib/redis-wait.sh -s ${tmpdir}/redis.sock}
# The arguments are redis-cli's (-s socket, -p port, -a password...).

i=0
while [ $i -lt 50 ]; do
	redis-cli "$@" ping 2>/dev/null | grep PONG && exit 0
	i=$((i + 1))
	sleep 0.1
done
exit 1
