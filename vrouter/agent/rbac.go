package agent

// The agent reads what its node needs and writes only its VirtualRouter;
// it never writes pods or nodes. controller-gen renders these markers into
// config/components/vrouter/role.yaml, which the operator grants.
//
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualrouters,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualrouters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualmachineinterfaces;instanceips;virtualnetworks;subnets;routinginstances,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=nodes;pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
