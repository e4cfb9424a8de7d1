# Waits up to 10 s for the varnishd named by -n DIR to listen, then
# writes its port to FILE (for the cdn_edge_*.vtc tests):
#	sh listen-port.sh DIR FILE
i=0
while [ $i -lt 100 ]; do
	varnishadm -n "$1" debug.listen_address 2>/dev/null |
	    awk '$1 == "a0" { print $3 }' > "$2"
	test -s "$2" && exit 0
	i=$((i + 1))
	sleep 0.1
done
exit 1
