package agent

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

func ri(name, defaultRT string, refs ...corev1alpha1.RouteTargetReference) corev1alpha1.RoutingInstance {
	r := corev1alpha1.RoutingInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	r.Spec.Parent = corev1alpha1.ResourceReference{Namespace: "default", Name: name}
	r.Spec.RouteTargetReferences = refs
	r.Status.DefaultRouteTargetReference = &corev1alpha1.RouteTargetReference{ResourceReference: corev1alpha1.ResourceReference{Name: defaultRT}}
	return r
}

func rt(name string, dir corev1alpha1.ImportExport) corev1alpha1.RouteTargetReference {
	return corev1alpha1.RouteTargetReference{ResourceReference: corev1alpha1.ResourceReference{Name: name},
		Attributes: corev1alpha1.RouteTargetAttributes{ImportExport: dir}}
}

func TestImportedNetworks(t *testing.T) {
	mesh := ri("vn3", "target-64512-8000003")
	mesh.Status.VirtualNetworkRouterRouteTargetReferences = map[string][]corev1alpha1.RouteTargetReference{
		"default/vnr": {rt("target-64512-8000100", "")}}
	mesh4 := ri("vn4", "target-64512-8000004")
	mesh4.Status.VirtualNetworkRouterRouteTargetReferences = map[string][]corev1alpha1.RouteTargetReference{
		"default/vnr": {rt("target-64512-8000100", "")}}
	got := importedNetworks([]corev1alpha1.RoutingInstance{
		// The blog's common route target: vn1 and vn2 reach each other.
		ri("vn1", "target-64512-8000001", rt("target-1234-567", "")),
		ri("vn2", "target-64512-8000002", rt("target-1234-567", "")),
		// A VirtualNetworkRouter of type mesh.
		mesh, mesh4,
		// The seed's crossed lists: vn5 imports what vn6 exports, not back.
		ri("vn5", "target-64512-8000005", rt("target-10.2.2.2-561", corev1alpha1.ImportExportImport)),
		ri("vn6", "target-64512-8000006", rt("target-10.2.2.2-561", corev1alpha1.ImportExportExport)),
		// Alone.
		ri("vn7", "target-64512-8000007"),
	})
	want := map[string][]string{
		"default/vn1": {"default/vn2"}, "default/vn2": {"default/vn1"},
		"default/vn3": {"default/vn4"}, "default/vn4": {"default/vn3"},
		"default/vn5": {"default/vn6"},
	}
	for k, v := range got {
		if len(v) == 0 {
			delete(got, k)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("importedNetworks = %v, want %v", got, want)
	}
}
