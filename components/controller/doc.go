// Package controller is the Kontrail controller component: it allocates network ids, routing instances, route targets, addresses and MACs.
package controller
