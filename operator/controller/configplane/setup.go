package configplane

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	"github.com/kontrail/kontrail/config/components"
	"github.com/kontrail/kontrail/operator/controller/component"
)

// Reasons of the Controller's and Kubemanager's conditions.
const (
	ReasonWaitingForApiServer = "WaitingForApiServer"
	// ReasonDuplicateKubemanager: kubemanager owns the cluster's default
	// networks, so only one Kubemanager may run; the oldest one does.
	ReasonDuplicateKubemanager = "DuplicateKubemanager"
)

// Images are the components' images, unless a resource's
// spec.common.containers overrides one.
type Images struct {
	ApiServer, Controller, Kubemanager string
}

// +kubebuilder:rbac:groups=configplane.juniper.net,resources=apiservers;controllers;kubemanagers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=configplane.juniper.net,resources=apiservers/status;controllers/status;kubemanagers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=configplane.juniper.net,resources=apiservers/finalizers;controllers/finalizers;kubemanagers/finalizers,verbs=update

// SetupWithManager registers the reconcilers of the three control-plane resources.
func SetupWithManager(mgr manager.Manager, images Images, version string) error {
	c := mgr.GetClient()
	var rules [3][]rbacv1.PolicyRule
	for i, name := range []string{"apiserver", "controller", "kubemanager"} {
		var err error
		if rules[i], err = components.Rules(name); err != nil {
			return err
		}
	}
	apiRules, ctlRules, kmRules := rules[0], rules[1], rules[2]
	if err := (&component.Reconciler[*configplanev1alpha1.ApiServer]{Client: c, Kind: kindApiServer, Version: version,
		NewObject: func() *configplanev1alpha1.ApiServer { return &configplanev1alpha1.ApiServer{} },
		Render: func(_ context.Context, a *configplanev1alpha1.ApiServer) (*component.Workload, error) {
			return apiServerWorkload(a, images.ApiServer), nil
		},
		Rules:  apiRules,
		Addons: []component.Addon[*configplanev1alpha1.ApiServer]{crdCheck{c}, webhooks{Client: c, now: time.Now}},
		// The webhooks skip the writes of every Controller's and Kubemanager's account (ComponentUsers).
		Watches: []client.Object{&configplanev1alpha1.Controller{}, &configplanev1alpha1.Kubemanager{}},
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&component.Reconciler[*configplanev1alpha1.Controller]{Client: c, Kind: "Controller", Version: version,
		NewObject: func() *configplanev1alpha1.Controller { return &configplanev1alpha1.Controller{} },
		Prerequisite: func(ctx context.Context, _ *configplanev1alpha1.Controller) (*component.Blocked, error) {
			return waitForApiServer(ctx, c)
		},
		Render: func(ctx context.Context, ctl *configplanev1alpha1.Controller) (*component.Workload, error) {
			api, err := availableApiServer(ctx, c)
			if err != nil || api == nil {
				return nil, fmt.Errorf("no Available ApiServer: %w", err)
			}
			return controllerWorkload(ctl, images.Controller, api.Spec.AutonomousSystem), nil
		},
		Rules:   ctlRules,
		Watches: []client.Object{&configplanev1alpha1.ApiServer{}},
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&component.Reconciler[*configplanev1alpha1.Kubemanager]{Client: c, Kind: "Kubemanager", Version: version,
		NewObject: func() *configplanev1alpha1.Kubemanager { return &configplanev1alpha1.Kubemanager{} },
		Prerequisite: func(ctx context.Context, km *configplanev1alpha1.Kubemanager) (*component.Blocked, error) {
			if b, err := onlyKubemanager(ctx, c, km); b != nil || err != nil {
				return b, err
			}
			return waitForApiServer(ctx, c)
		},
		Render: func(_ context.Context, km *configplanev1alpha1.Kubemanager) (*component.Workload, error) {
			return kubemanagerWorkload(km, images.Kubemanager), nil
		},
		Rules:   kmRules,
		Policy:  component.KubemanagerPolicy,
		Watches: []client.Object{&configplanev1alpha1.ApiServer{}, &configplanev1alpha1.Kubemanager{}},
	}).SetupWithManager(mgr)
}

// waitForApiServer holds a component back until an ApiServer is Available.
func waitForApiServer(ctx context.Context, c client.Client) (*component.Blocked, error) {
	api, err := availableApiServer(ctx, c)
	if err != nil || api != nil {
		return nil, err
	}
	return &component.Blocked{Reason: ReasonWaitingForApiServer, Message: "waiting for an ApiServer to be Available"}, nil
}

// availableApiServer is an Available ApiServer, or nil.
func availableApiServer(ctx context.Context, c client.Client) (*configplanev1alpha1.ApiServer, error) {
	var list configplanev1alpha1.ApiServerList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("failed to list ApiServers: %w", err)
	}
	for i := range list.Items {
		if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, commonv1alpha1.ConditionAvailable) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// onlyKubemanager refuses every Kubemanager but the oldest (by creation,
// then namespace/name): two would fight over the cluster's networks.
func onlyKubemanager(ctx context.Context, c client.Client, km *configplanev1alpha1.Kubemanager) (*component.Blocked, error) {
	var list configplanev1alpha1.KubemanagerList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("failed to list Kubemanagers: %w", err)
	}
	key := func(k *configplanev1alpha1.Kubemanager) string {
		return k.CreationTimestamp.UTC().Format(time.RFC3339) + "/" + k.Namespace + "/" + k.Name
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == km.UID || !other.DeletionTimestamp.IsZero() {
			continue
		}
		if key(other) < key(km) {
			return &component.Blocked{Reason: ReasonDuplicateKubemanager, Degraded: true,
				Message: fmt.Sprintf("only one Kubemanager per cluster is supported and %s/%s is already there: delete this one", other.Namespace, other.Name)}, nil
		}
	}
	return nil, nil
}
