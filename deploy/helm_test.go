package deploy_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

const chartDir = "helm/polybot"

var roles = []string{"api", "gateway", "worker"}

// rendered is a chart's output, every object decoded strictly into its
// Kubernetes API type.
type rendered struct {
	deployments map[string]*appsv1.Deployment // by role
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap // by name
	jobs        []*batchv1.Job
	accounts    []*corev1.ServiceAccount
	kinds       []string
}

// renderChart renders the chart as `helm install pb deploy/helm/polybot
// --namespace trading --set ...` would, with no cluster: values are
// validated against values.schema.json, templates run in strict mode.
func renderChart(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	rv, err := util.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: "pb", Namespace: "trading", Revision: 1, IsInstall: true}, common.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

// decode splits the rendered files into objects and decodes each one with
// sigs.k8s.io/yaml's UnmarshalStrict: an unknown or misspelt field, or a
// kind this test does not know, fails.
func decode(t *testing.T, files map[string]string) rendered {
	t.Helper()
	r := rendered{deployments: map[string]*appsv1.Deployment{}, pdbs: map[string]*policyv1.PodDisruptionBudget{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasSuffix(name, ".tpl") {
			continue
		}
		for i, doc := range strings.Split("\n"+files[name], "\n---") {
			if strings.TrimSpace(strings.NewReplacer("\n", "", " ", "").Replace(stripComments(doc))) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s #%d: %v\n%s", name, i, err, doc)
			}
			var obj any
			switch tm.APIVersion + "/" + tm.Kind {
			case "apps/v1/Deployment":
				obj = &appsv1.Deployment{}
			case "policy/v1/PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "autoscaling/v2/HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			case "v1/Service":
				obj = &corev1.Service{}
			case "v1/ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1/ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "batch/v1/Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s #%d: unexpected object %s %s", name, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s #%d (%s): not a valid %s: %v\n%s", name, i, tm.Kind, tm.Kind, err, doc)
			}
			var meta struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatal(err)
			}
			checkMeta(t, tm.Kind, meta.Metadata)
			r.kinds = append(r.kinds, tm.Kind)
			switch o := obj.(type) {
			case *appsv1.Deployment:
				role := o.Spec.Template.Labels["app.kubernetes.io/component"]
				if r.deployments[role] != nil {
					t.Fatalf("two Deployments for role %q", role)
				}
				r.deployments[role] = o
			case *policyv1.PodDisruptionBudget:
				r.pdbs[o.Labels["app.kubernetes.io/component"]] = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				r.hpas = append(r.hpas, o)
			case *corev1.Service:
				r.services = append(r.services, o)
			case *corev1.ConfigMap:
				r.configMaps[o.Name] = o
			case *batchv1.Job:
				r.jobs = append(r.jobs, o)
			case *corev1.ServiceAccount:
				r.accounts = append(r.accounts, o)
			}
		}
	}
	return r
}

// checkMeta applies the API server's rules for names and labels: a name
// the server would refuse fails here. Services need a DNS-1035 label.
func checkMeta(t *testing.T, kind string, m metav1.ObjectMeta) {
	t.Helper()
	check := validation.IsDNS1123Subdomain
	if kind == "Service" {
		check = validation.IsDNS1035Label
	}
	for _, e := range check(m.Name) {
		t.Errorf("%s name %q: %s", kind, m.Name, e)
	}
	for k, v := range m.Labels {
		for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			t.Errorf("%s %s label %s=%q: %s", kind, m.Name, k, v, e)
		}
	}
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func withSecret(extra map[string]any) map[string]any {
	v := map[string]any{"secret": map[string]any{"existingSecret": "polybot-secrets"}}
	maps.Copy(v, extra)
	return v
}

func mustRender(t *testing.T, vals map[string]any) rendered {
	t.Helper()
	files, err := renderChart(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decode(t, files)
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func envNamed(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestChartRendersADeploymentPerRole(t *testing.T) {
	r := mustRender(t, withSecret(nil))
	if got := slices.Sorted(maps.Keys(r.deployments)); !slices.Equal(got, roles) {
		t.Fatalf("Deployments for roles %v, want %v", got, roles)
	}
	if len(r.configMaps) != 1 {
		t.Fatalf("%d ConfigMaps, want 1", len(r.configMaps))
	}
	var cm *corev1.ConfigMap
	for _, c := range r.configMaps {
		cm = c
	}
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			d := r.deployments[role]
			if !selects(t, d.Spec.Selector, d.Spec.Template.Labels) {
				t.Fatalf("selector %v does not select its own pods %v", d.Spec.Selector, d.Spec.Template.Labels)
			}
			for other, o := range r.deployments {
				if other != role && selects(t, d.Spec.Selector, o.Spec.Template.Labels) {
					t.Errorf("selector also selects the %s pods", other)
				}
			}
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			c := pod.Containers[0]
			if want := []string{"serve", "--role", role}; !slices.Equal(c.Args, want) || len(c.Command) != 0 {
				t.Errorf("command %v args %v, want the image's entrypoint with %v", c.Command, c.Args, want)
			}
			if c.Image != "polybot:dev" {
				t.Errorf("image %s, want polybot:<appVersion>", c.Image)
			}

			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if ports["http"] != 8080 || cm.Data["POLYBOT_ADDR"] != "0.0.0.0:8080" {
				t.Errorf("http port %d, POLYBOT_ADDR %q", ports["http"], cm.Data["POLYBOT_ADDR"])
			}
			if ports["metrics"] == 0 || !strings.HasSuffix(cm.Data["POLYBOT_METRICS_ADDR"], fmt.Sprintf(":%d", ports["metrics"])) {
				t.Errorf("metrics port %d, POLYBOT_METRICS_ADDR %q", ports["metrics"], cm.Data["POLYBOT_METRICS_ADDR"])
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
				if p.probe == nil || p.probe.HTTPGet == nil {
					t.Errorf("no %s HTTP probe", p.name)
					continue
				}
				if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
					t.Errorf("%s probe GET %s on %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
				}
			}

			mk := envNamed(c, "POLYBOT_MASTER_KEY")
			if mk == nil || mk.Value != "" || mk.ValueFrom == nil || mk.ValueFrom.SecretKeyRef == nil ||
				mk.ValueFrom.SecretKeyRef.Name != "polybot-secrets" || mk.ValueFrom.SecretKeyRef.Key != "master-key" {
				t.Errorf("POLYBOT_MASTER_KEY %+v, want a secretKeyRef to polybot-secrets/master-key", mk)
			}
			db := envNamed(c, "POLYBOT_DATABASE_URL")
			if db == nil || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil || db.ValueFrom.SecretKeyRef.Name != "polybot-secrets" {
				t.Errorf("POLYBOT_DATABASE_URL %+v, want a secretKeyRef", db)
			}
			for _, e := range c.Env {
				if e.Value != "" && strings.Contains(e.Name, "KEY") {
					t.Errorf("%s is inlined in the pod spec", e.Name)
				}
			}
			if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
				t.Errorf("envFrom %+v, want the ConfigMap %s", c.EnvFrom, cm.Name)
			}
			if (envNamed(c, "POLYBOT_WORKER_ID") != nil) != (role == "worker") {
				t.Errorf("POLYBOT_WORKER_ID set: %v, want only on workers", envNamed(c, "POLYBOT_WORKER_ID") != nil)
			}

			psc, sc := pod.SecurityContext, c.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Error("the pod mounts a service account token it does not need")
			}
			res := c.Resources
			for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := res.Requests[n], res.Limits[n]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					t.Errorf("%s request %s limit %s", n, req.String(), lim.String())
				}
			}

			pdb := r.pdbs[role]
			if pdb == nil {
				t.Fatalf("no PodDisruptionBudget")
			}
			if !selects(t, pdb.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("the PDB %v does not select the %s pods", pdb.Spec.Selector, role)
			}
			if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
				t.Errorf("PDB sets minAvailable %v and maxUnavailable %v: want exactly one", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
			}
			if pdb.Spec.MinAvailable != nil && d.Spec.Replicas != nil && pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
				t.Errorf("PDB minAvailable %s with %d replicas: a node drain could never evict one", pdb.Spec.MinAvailable, *d.Spec.Replicas)
			}
		})
	}
	if s := r.deployments["gateway"].Spec.Strategy.Type; s != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("gateway strategy %q, want Recreate: two depth allocators must not overlap", s)
	}
	if slices.Contains(r.kinds, "Secret") {
		t.Error("the chart renders a Secret; it must only reference the existing one")
	}
}

// TestChartNamesFitWithALongRelease renders under a 53-character release
// name (Helm's limit): every name is cut to what the API server takes, and
// the roles' names stay distinct.
func TestChartNamesFitWithALongRelease(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	release := strings.Repeat("trading-desk-", 4) + "eu"
	release = release[:53]
	rv, err := util.ToRenderValuesWithSchemaValidation(ch, withSecret(nil),
		common.ReleaseOptions{Name: release, Namespace: "trading", Revision: 1, IsInstall: true}, common.DefaultCapabilities, false)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Engine{Strict: true}.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, files)
	names := map[string]bool{}
	for _, d := range r.deployments {
		names[d.Name] = true
	}
	if len(names) != 3 {
		t.Errorf("Deployment names %v, want three distinct", names)
	}
	for _, d := range r.deployments {
		for k, v := range d.Spec.Template.Labels {
			for _, e := range validation.IsValidLabelValue(v) {
				t.Errorf("pod label %s=%q: %s", k, v, e)
			}
		}
	}
}

func TestChartAutoscalesWorkers(t *testing.T) {
	r := mustRender(t, withSecret(nil))
	if len(r.hpas) != 1 {
		t.Fatalf("%d HPAs, want 1", len(r.hpas))
	}
	h, w := r.hpas[0], r.deployments["worker"]
	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != w.Name {
		t.Errorf("HPA targets %s %s %s, want apps/v1 Deployment %s", ref.APIVersion, ref.Kind, ref.Name, w.Name)
	}
	if w.Spec.Replicas != nil {
		t.Errorf("the worker Deployment sets replicas %d while the HPA owns them", *w.Spec.Replicas)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 10 {
		t.Errorf("HPA min %v max %d, want 2–10", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("HPA metrics %+v, want CPU", h.Spec.Metrics)
	}
	// CPU utilisation is a share of the request: the workers must have one.
	if req := w.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; req.IsZero() {
		t.Error("workers have no CPU request for the HPA to measure against")
	}

	off := mustRender(t, withSecret(map[string]any{"roles": map[string]any{"worker": map[string]any{
		"replicaCount": 3, "autoscaling": map[string]any{"enabled": false}}}}))
	if len(off.hpas) != 0 {
		t.Errorf("autoscaling off still renders %d HPAs", len(off.hpas))
	}
	if r := off.deployments["worker"].Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("autoscaling off: worker replicas %v, want 3", r)
	}
}

func TestChartServiceAndMigrationJob(t *testing.T) {
	r := mustRender(t, withSecret(nil))
	if len(r.services) != 1 {
		t.Fatalf("%d Services, want 1 (the api)", len(r.services))
	}
	svc, api := r.services[0], r.deployments["api"]
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, api.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the api pods", svc.Spec.Selector)
	}
	for role, d := range r.deployments {
		if role != "api" && selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d.Spec.Template.Labels) {
			t.Errorf("the api Service also selects %s pods", role)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v, want one to the pods' http port", svc.Spec.Ports)
	}

	if len(r.jobs) != 1 {
		t.Fatalf("%d Jobs, want the migration Job", len(r.jobs))
	}
	j := r.jobs[0]
	if hook := j.Annotations["helm.sh/hook"]; hook != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q", hook)
	}
	c := j.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("migration Job args %v", c.Args)
	}
	if e := envNamed(c, "POLYBOT_DATABASE_URL"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != "migrate-database-url" {
		t.Errorf("migration Job POLYBOT_DATABASE_URL %+v, want the Secret's migrate-database-url", e)
	}
	if j.Spec.Template.Spec.ServiceAccountName != "" {
		t.Errorf("the pre-install Job uses ServiceAccount %q, which the release creates only after it", j.Spec.Template.Spec.ServiceAccountName)
	}
	if sc := j.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the migration Job may run as root")
	}
	if off := mustRender(t, withSecret(map[string]any{"migrate": map[string]any{"enabled": false}})); len(off.jobs) != 0 {
		t.Error("migrate.enabled=false still renders the Job")
	}
}

func TestChartRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"no existing Secret", nil, "secret.existingSecret"},
		{"a misspelt top-level key", withSecret(map[string]any{"replicas": 3}), "replicas"},
		{"a misspelt role", withSecret(map[string]any{"roles": map[string]any{"workr": map[string]any{}}}), "workr"},
		{"the master key inlined", withSecret(map[string]any{"secret": map[string]any{"existingSecret": "s", "masterKey": "AAAA"}}), "masterKey"},
		{"the master key through extraEnv", withSecret(map[string]any{"config": map[string]any{"extraEnv": map[string]any{"POLYBOT_MASTER_KEY": "AAAA"}}}), "POLYBOT_MASTER_KEY"},
		{"a PDB with both bounds", withSecret(map[string]any{"roles": map[string]any{"api": map[string]any{"podDisruptionBudget": map[string]any{"maxUnavailable": 1}}}}), "podDisruptionBudget"},
		{"an unknown log level", withSecret(map[string]any{"config": map[string]any{"logLevel": "verbose"}}), "logLevel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderChart(t, tt.vals)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("render error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// TestChartLints runs `helm lint`'s rules (Chart.yaml, values against the
// schema, templates, deprecated APIs) through the SDK.
func TestChartLints(t *testing.T) {
	res := lint.RunAll(chartDir, withSecret(nil), "trading")
	var msgs []string
	for _, m := range res.Messages {
		if m.Severity > support.InfoSev {
			msgs = append(msgs, m.Error())
		}
	}
	sort.Strings(msgs)
	if len(msgs) > 0 {
		t.Fatalf("helm lint:\n%s", strings.Join(msgs, "\n"))
	}
}
