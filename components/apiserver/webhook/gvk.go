package webhook

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// scheme knows this package's kinds, to name them in error messages.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := corev1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

func apiutilGVK(obj client.Object) (schema.GroupVersionKind, error) {
	return apiutil.GVKForObject(obj, scheme)
}
