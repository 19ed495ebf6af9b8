package chaos

import (
	"testing"
	"time"
)

// The parsers of what pods print, without a lab.

func TestParseKernel(t *testing.T) {
	out := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: gretap0@NONE: <BROADCAST,MULTICAST> mtu 1462 qdisc noop qlen 1000\    link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff
3: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue \    link/ether 02:AA:bb:cc:dd:ee brd ff:ff:ff:ff:ff:ff
4: eth1@if13: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue \    link/ether 02:aa:bb:cc:dd:ff brd ff:ff:ff:ff:ff:ff
==
1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
3: eth0    inet 10.244.0.5/16 brd 10.244.255.255 scope global eth0\       valid_lft forever preferred_lft forever
3: eth0    inet6 fe80::aa:bbff:fecc:ddee/64 scope link \       valid_lft forever preferred_lft forever
4: eth1    inet 10.71.0.3/24 brd 10.71.0.255 scope global eth1\       valid_lft forever preferred_lft forever
`
	k, err := parseKernel(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 2 || k["eth0"].String() != "10.244.0.5 02:aa:bb:cc:dd:ee" || k["eth1"].String() != "10.71.0.3 02:aa:bb:cc:dd:ff" {
		t.Fatalf("parsed %s", describeKernel(k))
	}
}

func TestPingStream(t *testing.T) {
	s := &pingStream{runSent: -1, errors: map[string]int{}}
	s.consume(`START 1000
PING 10.71.0.3 (10.71.0.3): 56 data bytes
64 bytes from 10.71.0.3: seq=0 ttl=64 time=0.1 ms
64 bytes from 10.71.0.3: seq=1 ttl=64 time=0.1 ms
T 1001
T 1002
T 1003
64 bytes from 10.71.0.3: seq=12 ttl=64 time=0.1 ms
64 bytes from 10.71.0.3: seq=12 ttl=64 time=0.1 ms (DUP!)
64 bytes from 10.71.0.3: seq=14 ttl=64 time=0.1 ms
ping: sendto: Network is unreachable
T 1004
T 1005
START 1006
PING 10.71.0.3 (10.71.0.3): 56 data bytes
T 1007
T 1008
64 bytes from 10.71.0.3: seq=0 ttl=64 time=0.1 ms
64 bytes from 10.71.0.3: seq=1 ttl=64 time=0.1 ms

--- 10.71.0.3 ping statistics ---
3 packets transmitted, 2 packets received, 33% packet loss
`)
	s.endRun()
	if s.sent != 15+3 || s.received != 4+2 || !s.estimated || s.runs != 2 {
		t.Fatalf("sent %d received %d estimated %v runs %d", s.sent, s.received, s.estimated, s.runs)
	}
	if len(s.outages) != 2 || s.outages[0].length() != 3*time.Second || s.outages[1].length() != 5*time.Second {
		t.Fatalf("outages %v", s.outages)
	}
	if s.errors["ping: sendto: Network is unreachable"] != 1 {
		t.Fatalf("errors %v", s.errors)
	}
}
