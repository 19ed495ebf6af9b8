package bench

import (
	"context"
	"fmt"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// untilNetworkStatus waits, within limit, until n pods of namespace have
// their network-status. It watches the pods (one list, then each change
// once), as kubectl wait does: polling a list of 1,000 pods every 100 ms
// cost the apiserver more CPU than Kontrail's own writes did, so the
// burst measured the bench's polling, not the control plane.
func untilNetworkStatus(cfg *rest.Config, namespace string, n int, limit time.Duration) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "pods", namespace, fields.Everything())
	done := map[string]bool{}
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		pod, ok := e.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		switch {
		case e.Type == watch.Deleted:
			delete(done, pod.Name)
		case pod.Annotations[nadv1.NetworkStatusAnnot] != "":
			done[pod.Name] = true
		}
		return len(done) >= n, nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d pods have their network-status: %w", len(done), n, err)
	}
	return nil
}
