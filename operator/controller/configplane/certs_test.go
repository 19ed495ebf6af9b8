package configplane

import (
	"testing"
	"time"
)

func TestServingCertificateRenewal(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ca, err := newAuthority("test-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"api.ns.svc", "api.ns.svc.cluster.local"}
	certPEM, _, err := ca.issue(names, now)
	if err != nil {
		t.Fatal(err)
	}
	// Valid from an hour back (clock skew) for 90 days: renewed after two thirds.
	want := now.Add(-time.Hour).Add((servingLifetime + time.Hour) * 2 / 3)
	if got := ca.renewAt(certPEM, names); !got.Equal(want) {
		t.Errorf("renewAt = %v, want %v", got, want)
	}
	if got := ca.renewAt(certPEM, []string{"other.ns.svc"}); !got.IsZero() {
		t.Errorf("a certificate for other names must be renewed now, renewAt = %v", got)
	}
	other, err := newAuthority("other-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := other.renewAt(certPEM, names); !got.IsZero() {
		t.Errorf("a certificate from another CA must be renewed now, renewAt = %v", got)
	}
	if got := ca.renewAt([]byte("garbage"), names); !got.IsZero() {
		t.Errorf("garbage must be renewed now, renewAt = %v", got)
	}
	// The CA round-trips through its Secret's PEM.
	again, err := parseAuthority(ca.certPEM, ca.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !again.renewAt(certPEM, names).Equal(want) {
		t.Error("the parsed CA does not verify what it signed")
	}
	if _, err := parseAuthority(ca.certPEM, other.keyPEM); err == nil {
		t.Error("a CA certificate with another CA's key must not parse")
	}
}
