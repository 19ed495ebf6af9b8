// Package component holds what every Kontrail control-plane binary (the
// operator, apiserver, controller and kubemanager) sets up the same way:
// flags for metrics, health probes, leader election and logging, and a
// controller-runtime manager built from them.
package component

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	dataplanev1alpha1 "github.com/kontrail/kontrail/api/dataplane/v1alpha1"
)

// Options are the settings every component's manager takes from its flags.
type Options struct {
	// Name is the component's name; it names the leader-election lease.
	Name string

	MetricsAddr string
	// MetricsSecure serves /metrics over HTTPS to callers the apiserver
	// authenticates and authorizes (controller-runtime's filter: a
	// TokenReview, then a SubjectAccessReview for get on the non-resource
	// URL /metrics); the components run in the host network, so a plain
	// endpoint would be open to anyone who reaches the node.
	MetricsSecure  bool
	ProbeAddr      string
	LeaderElection bool
	// ClusterLease, when set, makes the component one per cluster: it
	// always elects a leader, with its lease in this namespace whatever
	// namespace its replicas run in (two installs in two namespaces elect
	// one leader between them), and --leader-elect=false is refused.
	ClusterLease string
	QPS          float64
	Burst        int
	Zap          zap.Options
}

// BindFlags registers the common flags on fs, with their documentation.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint (/metrics) binds to; 0 disables it.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true, "Serve /metrics over HTTPS to callers allowed to get /metrics (TokenReview and SubjectAccessReview); false serves plain HTTP, for a loopback bind address only.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz endpoints bind to.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader so that only one replica works at a time.")
	// client-go's default of 5 queries/s would make bulk reconciliation take
	// minutes; these defaults let a burst of a thousand objects through.
	fs.Float64Var(&o.QPS, "kube-api-qps", 200, "Queries per second the Kubernetes client may send.")
	fs.IntVar(&o.Burst, "kube-api-burst", 400, "Burst of queries the Kubernetes client may send above its QPS.")
	o.Zap.BindFlags(fs)
}

// Scheme returns a scheme with the Kubernetes built-in types, CRDs and
// every Kontrail API group registered.
func Scheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	// The operator checks that the core CRDs are established.
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(corev1alpha1.AddToScheme(scheme))
	utilruntime.Must(configplanev1alpha1.AddToScheme(scheme))
	utilruntime.Must(dataplanev1alpha1.AddToScheme(scheme))
	return scheme
}

// metricsOptions serves /metrics authenticated and authorized unless
// told otherwise; a plain endpoint must be on loopback.
func metricsOptions(o *Options) metricsserver.Options {
	if !o.MetricsSecure {
		return metricsserver.Options{BindAddress: o.MetricsAddr}
	}
	return metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: true, FilterProvider: filters.WithAuthenticationAndAuthorization}
}

// checkMetrics refuses a plain /metrics endpoint off loopback.
func checkMetrics(o *Options) error {
	if o.MetricsSecure || o.MetricsAddr == "0" {
		return nil
	}
	host, _, err := net.SplitHostPort(o.MetricsAddr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return fmt.Errorf("--metrics-secure=false serves /metrics to anyone: --metrics-bind-address must then be on loopback (127.0.0.1:<port>), not %q", o.MetricsAddr)
	}
	return nil
}

// NewManager sets the global logger and builds a manager with health and
// readiness checks from the options; extra adjusts the manager options
// before the manager is made (for webhooks, caches and the like).
func NewManager(o *Options, scheme *runtime.Scheme, extra func(*manager.Options)) (manager.Manager, error) {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))

	if err := checkMetrics(o); err != nil {
		return nil, err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to load kubeconfig: %w", err)
	}
	cfg.QPS = float32(o.QPS)
	cfg.Burst = o.Burst
	// Each distinct apiserver warning once per process: the controller
	// logged one for every write of an object with CN2's finalizer names
	// (not domain-qualified with a path): 34,323 lines in 22 minutes of
	// the 10,000-pod bench run.
	cfg.WarningHandlerWithContext = log.NewKubeAPIWarningLogger(log.KubeAPIWarningLoggerOptions{Deduplicate: true})

	opts := managerOptions(o, scheme)
	if extra != nil {
		extra(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("failed to create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add readiness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", CachesSynced(mgr.GetCache())); err != nil {
		return nil, fmt.Errorf("failed to add readiness check: %w", err)
	}
	return mgr, nil
}

// CachesSynced is ready once every informer the component started has
// listed its objects. Every replica, leader or standby, syncs its caches
// before the lease; so a rollout (the new pod ready before the old one
// ends) hands the lease to a replica whose caches are already filled,
// and the new leader's start is its rebuild alone.
func CachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 50*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the caches have not synced yet")
		}
		return nil
	}
}

// Main is the whole main function of a control-plane binary: it parses the
// common flags (and any the caller registered on flag.CommandLine before),
// builds the manager, lets setup register the component's reconcilers and
// webhooks, and runs until SIGTERM. It exits the process with status 1 and a
// message on stderr when any step fails.
//
// configure, when given, adjusts the manager options after the flags are
// parsed: a component's own flags (a webhook port, say) take effect there.
func Main(name, summary string, setup func(manager.Manager) error, configure ...func(*manager.Options)) {
	main(Options{Name: name}, summary, setup, configure)
}

// MainOnePerCluster is Main for a component of which one replica works in
// the whole cluster (the controller, which allocates): see ClusterLease.
func MainOnePerCluster(name, leaseNamespace, summary string, setup func(manager.Manager) error, configure ...func(*manager.Options)) {
	main(Options{Name: name, ClusterLease: leaseNamespace}, summary, setup, configure)
}

func main(opts Options, summary string, setup func(manager.Manager) error, configure []func(*manager.Options)) {
	name := opts.Name
	opts.BindFlags(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		flag.PrintDefaults()
	}
	flag.Parse()

	if err := opts.electOnePerCluster(flag.CommandLine); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	if err := run(&opts, setup, configure); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(opts *Options, setup func(manager.Manager) error, configure []func(*manager.Options)) error {
	mgr, err := NewManager(opts, Scheme(), func(o *manager.Options) {
		for _, c := range configure {
			c(o)
		}
	})
	if err != nil {
		return err
	}
	if setup != nil {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("failed to set up %s: %w", opts.Name, err)
		}
	}
	ctrl.Log.WithName("setup").Info("Starting manager", "component", opts.Name)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

// managerOptions are the manager's options from the component's.
//
// A leader that is stopped (SIGTERM: a rollout, a drain) releases its
// lease once every runnable has ended, and the process then exits (Run
// returns): the next leader starts at once instead of after the lease's
// 15 s (the bench's controller restart took 21.8 s so). A leader that
// crashes still holds the lease until it expires.
func managerOptions(o *Options, scheme *runtime.Scheme) manager.Options {
	opts := manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOptions(o),
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.Name + ".kontrail.juniper.net",
		LeaderElectionReleaseOnCancel: true,
		// The cache holds every object a component watches (the
		// controller and kubemanager: every pod's interfaces and
		// addresses); their managed fields, which no component reads,
		// were a large share of each.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	}
	if o.ClusterLease != "" {
		opts.LeaderElectionNamespace = o.ClusterLease
	}
	return opts
}

// electOnePerCluster turns leader election on for a one-per-cluster
// component, and refuses a command line that turns it off.
func (o *Options) electOnePerCluster(fs *flag.FlagSet) error {
	if o.ClusterLease == "" {
		return nil
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "leader-elect" })
	if explicit && !o.LeaderElection {
		return fmt.Errorf("--leader-elect=false: %s always elects one leader in the cluster (lease %s/%s.kontrail.juniper.net): two replicas that both worked would allocate on their own",
			o.Name, o.ClusterLease, o.Name)
	}
	o.LeaderElection = true
	return nil
}
