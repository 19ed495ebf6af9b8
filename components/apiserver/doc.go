// Package apiserver is the Kontrail apiserver component: validation and defaulting of the core.contrail.juniper.net API that the CRD schema cannot express.
package apiserver
