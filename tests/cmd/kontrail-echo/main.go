// Command kontrail-echo is the lab's external host's HTTP server: it
// answers every request with the address the request came from (one
// line), so that a test sees which address a pod's traffic leaves the
// cluster with (fabricSNAT: its node's), and logs each.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
)

func main() {
	listen := flag.String("listen", ":80", "Address to serve on.")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		log.Printf("%s %s from %s", r.Method, r.URL.Path, host)
		fmt.Fprintln(w, host)
	})
	log.Printf("serving on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
