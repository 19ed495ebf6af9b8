package v1alpha1

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// RouteTargetValue is a parsed route target: target:<Admin>:<Number>, the
// administrator an ASN or an IPv4 address.
//
// +kubebuilder:object:generate=false
type RouteTargetValue struct {
	// ASN is the administrator when it is an AS number (0 otherwise).
	ASN uint32
	// IP is the administrator when it is an IPv4 address (invalid otherwise).
	IP netip.Addr
	// Number is the assigned number.
	Number uint32
}

// FirstSystemRouteTargetNumber starts the numbers the controller gives the
// networks and routers it makes, target:<AS>:<8000000+n>, as CN2's: a
// route target there is the controller's, and a user's list naming one is
// refused (it would import another network's routes).
const FirstSystemRouteTargetNumber = 8000000

// IsSystem says whether the route target is in the controller's range
// (an AS number with a number from FirstSystemRouteTargetNumber).
func (v RouteTargetValue) IsSystem() bool {
	return !v.IP.IsValid() && v.Number >= FirstSystemRouteTargetNumber
}

// SystemRouteTargetRange describes the controller's range to a user.
const SystemRouteTargetRange = "target:<AS>:8000000 and above are the controller's, for the networks and routers it makes; a user's route target needs a lower number"

// String is the route target in target:<admin>:<number> form.
func (v RouteTargetValue) String() string {
	return "target:" + v.admin() + ":" + strconv.FormatUint(uint64(v.Number), 10)
}

// ObjectName is the name of the RouteTarget object for the route target:
// target-<admin>-<number>, e.g. target-64512-8000009.
func (v RouteTargetValue) ObjectName() string {
	return "target-" + v.admin() + "-" + strconv.FormatUint(uint64(v.Number), 10)
}

func (v RouteTargetValue) admin() string {
	if v.IP.IsValid() {
		return v.IP.String()
	}
	return strconv.FormatUint(uint64(v.ASN), 10)
}

// ParseRouteTarget parses target:<ASN>:<number> or target:<IPv4>:<number>
// and checks the ranges BGP extended communities allow: with a 2-byte ASN
// (1-65535) a 4-byte number; with a 4-byte ASN or an IPv4 address a 2-byte
// number.
func ParseRouteTarget(s string) (RouteTargetValue, error) {
	return parseRouteTarget(s, "target:", ":")
}

// ParseRouteTargetObjectName parses a RouteTarget object's name,
// target-<ASN>-<number> or target-<IPv4>-<number>, with the same checks as
// ParseRouteTarget.
func ParseRouteTargetObjectName(name string) (RouteTargetValue, error) {
	return parseRouteTarget(name, "target-", "-")
}

func parseRouteTarget(s, prefix, sep string) (RouteTargetValue, error) {
	var v RouteTargetValue
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return v, fmt.Errorf("must be %s<ASN>%s<number> or %s<IPv4>%s<number>", prefix, sep, prefix, sep)
	}
	admin, number, ok := strings.Cut(rest, sep)
	if !ok || admin == "" || number == "" || strings.Contains(number, sep) {
		return v, fmt.Errorf("must be %s<ASN>%s<number> or %s<IPv4>%s<number>", prefix, sep, prefix, sep)
	}
	n, err := strconv.ParseUint(number, 10, 32)
	if err != nil {
		return v, fmt.Errorf("number %q must be an integer from 0 to 4294967295", number)
	}
	v.Number = uint32(n)

	if strings.Contains(admin, ".") {
		ip, err := netip.ParseAddr(admin)
		if err != nil || !ip.Is4() {
			return v, fmt.Errorf("administrator %q must be an AS number or an IPv4 address", admin)
		}
		v.IP = ip
		if n > 65535 {
			return v, fmt.Errorf("number %d must be at most 65535 after an IPv4 address", n)
		}
		return v, nil
	}
	asn, err := strconv.ParseUint(admin, 10, 32)
	if err != nil || asn == 0 {
		return v, fmt.Errorf("AS number %q must be an integer from 1 to 4294967295", admin)
	}
	v.ASN = uint32(asn)
	if asn > 65535 && n > 65535 {
		return v, fmt.Errorf("number %d must be at most 65535 after a 4-byte AS number (%d)", n, asn)
	}
	return v, nil
}
