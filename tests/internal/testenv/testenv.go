// Package testenv starts what the envtest suites and benchmarks run Kontrail
// against: a real kube-apiserver and etcd (built from source by 'make
// envtest-assets') with every CRD of config/crd installed, the apiserver
// component's webhooks, and the controller component.
//
// The controller and kubemanager run as their own users (ControllerUser,
// KubemanagerUser), whose writes the webhook configurations skip where a
// cluster's skip its Controllers' and Kubemanagers' accounts: the
// configurations are config/webhook.Configurations(ComponentUsers...),
// what the operator installs.
package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	apiwebhook "github.com/kontrail/kontrail/components/apiserver/webhook"
	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	webhookconfig "github.com/kontrail/kontrail/config/webhook"
	"github.com/kontrail/kontrail/operator/controller"
	"github.com/kontrail/kontrail/pkg/component"
)

// The users the controller and kubemanager run as (in system:masters, as
// the envtest user is). ComponentUsers are both: the webhook
// configurations skip their writes of VirtualMachines, interfaces and
// InstanceIPs, as the operator's skip a cluster's components'.
const (
	ControllerUser  = "kontrail-controller"
	KubemanagerUser = "kontrail-kubemanager"
)

// ComponentUsers are the users whose writes the webhooks skip.
var ComponentUsers = []string{ControllerUser, KubemanagerUser}

// Env is a running control plane with Kontrail's CRDs and webhooks.
type Env struct {
	Environment *envtest.Environment
	// Config is the envtest user's (system:masters), whose writes pass every webhook.
	Config *rest.Config
	// ControllerConfig and KubemanagerConfig are the components' users'.
	ControllerConfig, KubemanagerConfig *rest.Config
	Client                              client.Client
	Scheme                              *runtime.Scheme
	RepoRoot                            string

	users map[string]*envtest.AuthenticatedUser
}

// Start starts the control plane; repoRoot is the repository's top directory.
func Start(repoRoot string) (*Env, error) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return nil, err
	}
	e := &Env{RepoRoot: root, Scheme: newScheme()}
	mutating, validating, err := webhookconfig.Configurations(ComponentUsers...)
	if err != nil {
		return nil, err
	}
	e.Environment = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: e.BinDir(),
		// The apiserver component's webhook configurations, as the
		// operator installs them, pointed by envtest at the webhook
		// server StartWebhookServer runs.
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{mutating},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{validating},
		},
	}
	// etcd's default backend quota (2 GiB) is below what the bench's
	// 10,000 pods write between the apiserver's compactions; 8 GiB is
	// etcd's suggested maximum.
	e.Environment.ControlPlane.Etcd = &envtest.Etcd{}
	e.Environment.ControlPlane.Etcd.Configure().Set("quota-backend-bytes", "8589934592")
	e.Config, err = e.Environment.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start the control plane (run 'make envtest-assets' first): %w", err)
	}
	// Bulk specs and benchmarks must not wait on client-side throttling.
	e.Config.QPS, e.Config.Burst = 1000, 2000
	e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		return nil, err
	}
	e.users = map[string]*envtest.AuthenticatedUser{}
	for user, cfg := range map[string]**rest.Config{ControllerUser: &e.ControllerConfig, KubemanagerUser: &e.KubemanagerConfig} {
		u, err := e.Environment.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, e.Config)
		if err != nil {
			return nil, fmt.Errorf("failed to add user %s: %w", user, err)
		}
		e.users[user] = u
		*cfg = u.Config()
		(*cfg).QPS, (*cfg).Burst = e.Config.QPS, e.Config.Burst
	}
	return e, nil
}

// KubeConfig is a kubeconfig of one of ComponentUsers, for a component
// run as its own process.
func (e *Env) KubeConfig(user string) ([]byte, error) {
	u, ok := e.users[user]
	if !ok {
		return nil, fmt.Errorf("no user %s", user)
	}
	return u.KubeConfig()
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.Environment.Stop() }

// BinDir is where the control-plane binaries are: the Makefile's
// KUBEBUILDER_ASSETS, or bin/k8s when a suite runs from an IDE.
func (e *Env) BinDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(e.RepoRoot, "bin", "k8s")
}

// newScheme is the scheme of every component and kubemanager's kinds.
func newScheme() *runtime.Scheme {
	s := component.Scheme()
	utilruntime.Must(kubemanager.AddToScheme(s))
	return s
}

// newManager makes a manager as cfg's user with no metrics or probe listeners.
func (e *Env) newManager(cfg *rest.Config, opts ctrl.Options) (ctrl.Manager, error) {
	// A scheme of its own: kubemanager.Setup adds its kinds to its
	// manager's scheme, which would race with the informers of the other
	// managers running on a shared one (as in a process of its own).
	opts.Scheme = newScheme()
	opts.Metrics = metricsserver.Options{BindAddress: "0"}
	opts.HealthProbeBindAddress = "0"
	// A restarted controller registers the same controller names again.
	opts.Controller = config.Controller{SkipNameValidation: ptr.To(true)}
	return ctrl.NewManager(cfg, opts)
}

// run starts mgr until ctx ends; the returned function stops it and waits.
func run(ctx context.Context, mgr ctrl.Manager) func() error {
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error {
		stop()
		return <-done
	}
}

// StartWebhookServer runs the apiserver component's webhooks, as the
// kontrail-apiserver binary does, and waits until they serve.
func (e *Env) StartWebhookServer(ctx context.Context) (func() error, error) {
	o := &e.Environment.WebhookInstallOptions
	mgr, err := e.newManager(e.Config, ctrl.Options{WebhookServer: webhook.NewServer(webhook.Options{
		Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
	})})
	if err != nil {
		return nil, err
	}
	if err := apiwebhook.Setup(mgr); err != nil {
		return nil, err
	}
	stop := run(ctx, mgr)
	addr := net.JoinHostPort(o.LocalServingHost, strconv.Itoa(o.LocalServingPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe of a local test server
		if err == nil {
			_ = conn.Close()
			return stop, nil
		}
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("the webhook server did not start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartController runs the controller component's reconcilers, as the
// kontrail-controller binary does, as ControllerUser; configure adjusts
// the manager (leader election, say).
func (e *Env) StartController(ctx context.Context, opts controllers.Options, configure ...func(*ctrl.Options)) (func() error, error) {
	var mgrOpts ctrl.Options
	for _, c := range configure {
		c(&mgrOpts)
	}
	mgr, err := e.newManager(e.ControllerConfig, mgrOpts)
	if err != nil {
		return nil, err
	}
	if _, err := controllers.Setup(ctx, mgr, opts); err != nil {
		return nil, err
	}
	return run(ctx, mgr), nil
}

// StartKubemanager runs the kubemanager component's reconcilers, as the
// kontrail-kubemanager binary does, as KubemanagerUser.
func (e *Env) StartKubemanager(ctx context.Context, cfg kubemanager.Config) (func() error, error) {
	mgr, err := e.newManager(e.KubemanagerConfig, ctrl.Options{})
	if err != nil {
		return nil, err
	}
	if err := kubemanager.Setup(ctx, mgr, &cfg); err != nil {
		return nil, err
	}
	return run(ctx, mgr), nil
}

// StartOperator runs the operator's reconcilers, as the kontrail-operator
// binary does.
func (e *Env) StartOperator(ctx context.Context, images controller.Images, version string) (func() error, error) {
	return e.StartOperatorAs(ctx, e.Config, images, version, ctrl.Log)
}

// StartOperatorAs runs the operator with cfg's identity (an impersonating
// config proves what a service account's permissions allow).
func (e *Env) StartOperatorAs(ctx context.Context, cfg *rest.Config, images controller.Images, version string, logger logr.Logger) (func() error, error) {
	// The operator binary's own scheme, not the suite's (which has more).
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: component.Scheme(), Cache: controller.CacheOptions(), Logger: logger,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		return nil, err
	}
	if err := controller.SetupWithManager(mgr, images, version); err != nil {
		return nil, err
	}
	return run(ctx, mgr), nil
}
