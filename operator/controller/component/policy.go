package component

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Policy is what a component's own account may do beyond RBAC: a
// ValidatingAdmissionPolicy (CEL, evaluated in the apiserver: no webhook
// round trip, nothing to be down) that applies to requests of the
// component's ServiceAccount alone.
type Policy struct {
	// Rules are the requests it looks at.
	Rules []admissionregistrationv1.NamedRuleWithOperations
	// Validations must all hold, or the request is denied with their message.
	Validations []admissionregistrationv1.Validation
}

// RenderPolicy renders the policy and its binding (Deny), both named as
// the component's ClusterRole, matching the pods' ServiceAccount's user.
func (w *Workload) RenderPolicy(p *Policy, kind string) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	role, _ := w.RenderRBAC(nil, kind)
	user := w.UserName()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: *role.ObjectMeta.DeepCopy(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: p.Rules},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "component-account",
				Expression: "request.userInfo.username == '" + user + "'"}},
			Validations: p.Validations,
		}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: *role.ObjectMeta.DeepCopy(),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: role.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}}}
	return policy, binding
}

// rule is one resource rule of a policy.
func rule(group string, resources []string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.NamedRuleWithOperations {
	return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule: admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources,
			Scope: ptr.To(admissionregistrationv1.AllScopes)}}}
}

// AgentPolicy: a vrouter agent writes only the VirtualRouter of the node
// its token is bound to (the bound token's
// authentication.kubernetes.io/node-name): a stolen agent token cannot
// take another node's endpoints.
var AgentPolicy = &Policy{
	Rules: []admissionregistrationv1.NamedRuleWithOperations{rule("core.contrail.juniper.net", []string{"virtualrouters", "virtualrouters/status"},
		admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete)},
	Validations: []admissionregistrationv1.Validation{{
		Expression: "has(request.userInfo.extra) && 'authentication.kubernetes.io/node-name' in request.userInfo.extra && " +
			"request.userInfo.extra['authentication.kubernetes.io/node-name'].exists(n, n == (request.operation == 'DELETE' ? oldObject.metadata.name : object.metadata.name))",
		Message: "a vrouter agent writes only the VirtualRouter of the node its token is bound to (authentication.kubernetes.io/node-name)",
		Reason:  ptr.To(metav1.StatusReasonForbidden)}},
}

// KubemanagerPolicy: kubemanager changes nothing of a pod but its own
// annotations: not its spec (an image), labels, finalizers or anyone
// else's annotations.
var KubemanagerPolicy = func() *Policy {
	keys := "["
	for i, k := range corev1alpha1.PodAnnotationsOfKubemanager {
		if i > 0 {
			keys += ", "
		}
		keys += "'" + k + "'"
	}
	keys += "]"
	annotations := func(o string) string {
		return "(has(" + o + ".metadata.annotations) ? " + o + ".metadata.annotations : {})"
	}
	same := func(field string) string {
		return "(has(object.metadata." + field + ") ? object.metadata." + field + " : []) == (has(oldObject.metadata." + field + ") ? oldObject.metadata." + field + " : [])"
	}
	return &Policy{
		Rules: []admissionregistrationv1.NamedRuleWithOperations{rule("", []string{"pods"}, admissionregistrationv1.Update)},
		Validations: []admissionregistrationv1.Validation{
			{Expression: "object.spec == oldObject.spec", Message: "kubemanager changes no pod's spec",
				Reason: ptr.To(metav1.StatusReasonForbidden)},
			{Expression: "(has(object.metadata.labels) ? object.metadata.labels : {}) == (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}) && " + same("finalizers"),
				Message: "kubemanager changes no pod's labels or finalizers", Reason: ptr.To(metav1.StatusReasonForbidden)},
			{Expression: annotations("object") + ".all(k, k in " + keys + " || (k in " + annotations("oldObject") + " && " + annotations("oldObject") + "[k] == " + annotations("object") + "[k])) && " +
				annotations("oldObject") + ".all(k, k in " + keys + " || k in " + annotations("object") + ")",
				Message: "kubemanager changes only its own pod annotations (" + keys + ")", Reason: ptr.To(metav1.StatusReasonForbidden)},
		},
	}
}()
