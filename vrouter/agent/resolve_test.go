package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
)

func TestSignalsWakeTheKeysListenersOnce(t *testing.T) {
	s := newSignals()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	chA1, _ := s.listen(a)
	chA2, _ := s.listen(a)
	chB, stopB := s.listen(b)
	s.notify(a)
	for i, ch := range []<-chan struct{}{chA1, chA2} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatalf("listener %d of a not woken", i)
		}
	}
	select {
	case <-chB:
		t.Fatal("a's change woke b's listener")
	default:
	}
	stopB()
	s.notify(b) // no listener left: nothing to close twice
	if len(s.waiters) != 0 {
		t.Fatalf("listeners left after notify and stop: %v", s.waiters)
	}
	_, stopA := s.listen(a)
	s.notify(a)
	stopA() // after notify: harmless
}

// The agent answers the plugin from kubemanager's typed problem: a
// problem kubemanager retries is waited on a little, one it does not is
// the answer at once; a pod the node does not know is an unknown container.
func TestInterfacesAnswersKubemanagersTypedProblem(t *testing.T) {
	pod := func(name string, problem *corev1alpha1.PodProblem) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name + "-uid")}}
		if problem != nil {
			data, _ := json.Marshal(problem)
			p.Annotations = map[string]string{corev1alpha1.AnnotationPodProblem: string(data)}
		}
		return p
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = corev1alpha1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		pod("invalid", &corev1alpha1.PodProblem{Reason: corev1alpha1.PodProblemInvalidNetworks, Message: "NetworkAttachmentDefinition ns/x is invalid: no"}),
		pod("coming", &corev1alpha1.PodProblem{Reason: corev1alpha1.PodProblemNotFound, Message: "NetworkAttachmentDefinition ns/y not found", Retry: true}),
	).Build()
	r := &resolver{node: "n1", cache: c, podChanged: newSignals(), poll: 10 * time.Millisecond, failureGrace: 300 * time.Millisecond}
	ask := func(name string) (*agentapi.Error, time.Duration) {
		start := time.Now()
		_, err := r.Interfaces(context.Background(), agentapi.InterfacesRequest{PodNamespace: "ns", PodName: name, WaitSeconds: 1})
		return err, time.Since(start)
	}
	for _, tc := range []struct {
		pod     string
		code    uint
		message string
		atLeast time.Duration
	}{
		{pod: "invalid", code: agentapi.CodeInvalidConfig, message: "is invalid: no (see its juniper.net/networks-status"},
		{pod: "coming", code: agentapi.CodeInvalidConfig, message: "ns/y not found", atLeast: 300 * time.Millisecond},
		{pod: "unknown", code: agentapi.CodeUnknownContainer, message: "pod ns/unknown is not known on node n1", atLeast: time.Second},
	} {
		err, took := ask(tc.pod)
		if err == nil || err.Code != tc.code || !strings.Contains(err.Message, tc.message) {
			t.Errorf("pod %s: answer %+v, want code %d with %q", tc.pod, err, tc.code, tc.message)
		}
		if took < tc.atLeast {
			t.Errorf("pod %s: answered after %s, before %s", tc.pod, took, tc.atLeast)
		}
		if tc.atLeast == 0 && took > 200*time.Millisecond {
			t.Errorf("pod %s: a problem kubemanager does not retry took %s to be the answer", tc.pod, took)
		}
	}
}

// The default route is data kubemanager resolved: network-status's
// default and gateway, never a second parse of the pod's selection.
func TestRouteDefaultReadsNetworkStatus(t *testing.T) {
	itf := func() agentapi.Interface {
		return agentapi.Interface{Name: "eth1", IPs: []agentapi.IP{{Address: "172.16.40.7/24", Gateway: "172.16.40.1"}, {Address: "fd00:40::7/64"}}}
	}
	a := itf()
	if err := routeDefault(&a, nadv1.NetworkStatus{Interface: "eth1", Default: true, Gateway: []string{"172.16.40.254", "fd00:40::fe"}}); err != nil {
		t.Fatal(err.Message)
	}
	if !a.DefaultRoute || a.IPs[0].Gateway != "172.16.40.254" || a.IPs[1].Gateway != "fd00:40::fe" {
		t.Errorf("default through the recorded gateways: got %+v", a)
	}
	b := itf()
	if err := routeDefault(&b, nadv1.NetworkStatus{Interface: "eth1"}); err != nil || b.DefaultRoute || b.IPs[0].Gateway != "172.16.40.1" {
		t.Errorf("not default: want its subnet's gateway kept and no default route, got %+v, %v", b, err)
	}
	c := itf()
	err := routeDefault(&c, nadv1.NetworkStatus{Interface: "eth1", Default: true, Gateway: []string{"10.0.0.1"}})
	if err == nil || err.Code != agentapi.CodeInvalidConfig || !strings.Contains(err.Message, "gateway 10.0.0.1 is in none of its subnets") {
		t.Errorf("a gateway outside the interface's subnets: got %+v", err)
	}
}
