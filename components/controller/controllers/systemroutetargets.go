package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// systemRouteTargets hands out the route targets the controller owns, one
// per owner (a routing instance, a network router): target:<AS>:<8000000+n>
// and its RouteTarget object, labelled core.juniper.net/systemrt=true.
type systemRouteTargets struct {
	client.Client
	state            *State
	autonomousSystem uint32
}

func (s systemRouteTargets) value(n uint64) corev1alpha1.RouteTargetValue {
	return corev1alpha1.RouteTargetValue{ASN: s.autonomousSystem, Number: uint32(n)}
}

// ensure allocates owner's route target and makes its object; the error
// wraps allocator.ErrExhausted when no number is left.
func (s systemRouteTargets) ensure(ctx context.Context, owner types.UID) (corev1alpha1.RouteTargetValue, *corev1alpha1.RouteTarget, error) {
	n, err := s.state.RouteTargets.Allocate(owner)
	if err != nil {
		return corev1alpha1.RouteTargetValue{}, nil, fmt.Errorf("no route-target number left to allocate: %w", err)
	}
	v := s.value(n)
	rt := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: v.ObjectName(),
		Labels: map[string]string{corev1alpha1.LabelSystemRouteTarget: "true"}}}
	if err := s.Create(ctx, rt); apierrors.IsAlreadyExists(err) {
		err = s.Get(ctx, types.NamespacedName{Name: rt.Name}, rt)
	}
	if err != nil {
		return v, nil, fmt.Errorf("failed to create RouteTarget %s: %w", rt.Name, err)
	}
	return v, rt, nil
}

// release deletes owner's RouteTarget object and frees its number.
func (s systemRouteTargets) release(ctx context.Context, owner types.UID) error {
	n, ok := s.state.RouteTargets.Held(owner)
	if !ok {
		return nil
	}
	rt := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: s.value(n).ObjectName()}}
	if err := s.Delete(ctx, rt); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to delete RouteTarget %s: %w", rt.Name, err)
	}
	s.state.RouteTargets.Release(owner)
	return nil
}
