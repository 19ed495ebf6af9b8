package v1alpha1

// Object is a core object: every kind of this package has a CommonStatus.
// +kubebuilder:object:generate=false
type Object interface {
	// GetCommonStatus returns the status fields every kind shares.
	GetCommonStatus() *CommonStatus
}

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualNetwork) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *Subnet) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *RoutingInstance) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *RouteTarget) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualMachine) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualMachineInterface) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *InstanceIP) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualNetworkRouter) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualRouter) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }
