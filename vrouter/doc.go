// Package vrouter is the Kontrail node agent: it registers its node as a
// VirtualRouter, programs the Linux dataplane with netlink for the networks
// of the pods on its node, and serves the CNI plugin on a local socket.
package vrouter
