package deploy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The parts of Kubernetes objects the tests read.
type (
	k8sSecurity struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot" json:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser" json:"runAsUser"`
		RunAsGroup               *int64 `yaml:"runAsGroup" json:"runAsGroup"`
		FSGroup                  *int64 `yaml:"fsGroup" json:"fsGroup"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation" json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem" json:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop" json:"drop"`
		} `yaml:"capabilities" json:"capabilities"`
	}
	k8sProbe struct {
		Exec *struct {
			Command []string `yaml:"command"`
		} `yaml:"exec"`
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
		TimeoutSeconds int `yaml:"timeoutSeconds"`
	}
	k8sContainer struct {
		Name  string `yaml:"name"`
		Image string `yaml:"image"`
		Args  []string
		Env   []struct{ Name, Value string }
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Readiness    *k8sProbe   `yaml:"readinessProbe"`
		Liveness     *k8sProbe   `yaml:"livenessProbe"`
		Security     k8sSecurity `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	k8sPod struct {
		Grace      int            `yaml:"terminationGracePeriodSeconds"`
		Security   k8sSecurity    `yaml:"securityContext"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName  string `yaml:"secretName"`
				DefaultMode *int   `yaml:"defaultMode"`
			} `yaml:"secret"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	}
	k8sObject struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
		Spec struct {
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec k8sPod `yaml:"spec"`
			} `yaml:"template"`
			// NetworkPolicy
			PodSelector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"podSelector"`
			PolicyTypes []string `yaml:"policyTypes"`
			Ingress     []struct {
				From  []map[string]any `yaml:"from"`
				Ports []struct {
					Protocol string `yaml:"protocol"`
					Port     any    `yaml:"port"`
				} `yaml:"ports"`
			} `yaml:"ingress"`
			// Service
			Selector any `yaml:"selector"` // a map in a Service, matchLabels in a Deployment
			Ports    []struct {
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
)

// manifests decodes every document of every YAML file in kubernetes/.
func manifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(fh)
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				t.Errorf("%s: a document without kind", f)
			}
			objs = append(objs, o)
		}
		fh.Close()
	}
	return objs
}

func findObjects(objs []k8sObject, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

var pinnedTag = regexp.MustCompile(`^[^:@]+(:v?\d+(\.\d+)+[-\w.]*|@sha256:[0-9a-f]{64})$`)

func TestKubernetesSidecar(t *testing.T) {
	t.Parallel()
	objs := manifests(t)
	deploys := findObjects(objs, "Deployment")
	if len(deploys) != 1 {
		t.Fatalf("%d Deployments, want 1", len(deploys))
	}
	d := deploys[0]
	pod := d.Spec.Template.Spec
	img := parseImage(t)
	uid, gid := imageUser(t, img.user)
	var gw, app *k8sContainer
	for i := range pod.Containers {
		c := &pod.Containers[i]
		if strings.Contains(c.Image, "portcullis") {
			gw = c
		} else {
			app = c
		}
	}
	if gw == nil || app == nil {
		t.Fatalf("want a portcullis container and an app container, have %d containers", len(pod.Containers))
	}

	t.Run("images pinned to a version", func(t *testing.T) {
		for _, c := range pod.Containers {
			if !pinnedTag.MatchString(c.Image) {
				t.Errorf("container %s image %q: pin a version (no latest, no bare name)", c.Name, c.Image)
			}
		}
	})
	t.Run("non-root, read-only, no privileges", func(t *testing.T) {
		if s := pod.Security; s.RunAsNonRoot == nil || !*s.RunAsNonRoot {
			t.Errorf("pod securityContext.runAsNonRoot is not true")
		}
		for _, c := range pod.Containers {
			s := c.Security
			if s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
				t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
			}
			if s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
				t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
			}
			if !slices.Contains(s.Capabilities.Drop, "ALL") {
				t.Errorf("container %s: capabilities do not drop ALL", c.Name)
			}
			if u := effective(c.Security.RunAsUser, pod.Security.RunAsUser); u == nil || *u == 0 {
				t.Errorf("container %s runs as root", c.Name)
			}
		}
		if u := effective(gw.Security.RunAsUser, pod.Security.RunAsUser); u == nil || *u != int64(uid) {
			t.Errorf("gateway runAsUser unset or not the image's %d", uid)
		}
	})
	t.Run("secrets 0440 to the fsGroup", func(t *testing.T) {
		if g := pod.Security.FSGroup; g == nil || *g != int64(gid) {
			t.Errorf("fsGroup unset or not the gateway's group %d", gid)
		}
		n := 0
		for _, v := range pod.Volumes {
			if v.Secret == nil {
				continue
			}
			n++
			if m := v.Secret.DefaultMode; m == nil || *m != 0o440 {
				t.Errorf("secret volume %s defaultMode %s, want 0440", v.Name, octal(m))
			}
		}
		if n == 0 {
			t.Errorf("no secret volumes")
		}
		for _, m := range gw.VolumeMounts {
			if m.SubPath != "" {
				t.Errorf("gateway mount %s uses subPath: updates (users file, keys) would never arrive", m.Name)
			}
		}
	})
	t.Run("probes use portcullis health", func(t *testing.T) {
		for name, p := range map[string]*k8sProbe{"readiness": gw.Readiness, "liveness": gw.Liveness} {
			if p == nil || p.Exec == nil {
				t.Errorf("%s probe is not an exec probe", name)
				continue
			}
			cmd := p.Exec.Command
			if len(cmd) < 2 || cmd[0] != img.binary || cmd[1] != "health" {
				t.Errorf("%s probe %q, want %s health ...", name, cmd, img.binary)
			}
			if ready := slices.Contains(cmd, "-ready"); ready != (name == "readiness") {
				t.Errorf("%s probe %q: -ready belongs to readiness only (liveness must survive a drain)", name, cmd)
			}
			if p.TimeoutSeconds <= 2 {
				t.Errorf("%s probe timeoutSeconds %d, want more than health's own 2s", name, p.TimeoutSeconds)
			}
		}
		if pod.Grace <= 30 {
			t.Errorf("terminationGracePeriodSeconds %d, want more than shutdown_delay + shutdown_timeout (30s)", pod.Grace)
		}
	})
	t.Run("app reachable through the gateway only", func(t *testing.T) {
		if len(app.Ports) != 0 {
			t.Errorf("app container declares ports %v", app.Ports)
		}
		listens := appListens(t, objs, pod, app)
		if len(listens) == 0 {
			t.Fatalf("no listen directive found for the app")
		}
		for _, l := range listens {
			if !strings.HasPrefix(l, "127.0.0.1:") && !strings.HasPrefix(l, "[::1]:") {
				t.Errorf("app listens on %q, want loopback only", l)
			}
		}
		var upstream string
		for _, e := range gw.Env {
			if e.Name == "UPSTREAM_URL" {
				upstream = e.Value
			}
		}
		if !slices.Contains(listens, strings.TrimPrefix(upstream, "http://")) {
			t.Errorf("gateway UPSTREAM_URL %q is not the app's listen address %q", upstream, listens)
		}
	})
	t.Run("network policy admits the gateway port only", func(t *testing.T) {
		checkNetworkPolicy(t, objs, d, gw)
	})
	t.Run("service targets the gateway", func(t *testing.T) {
		for _, s := range findObjects(objs, "Service") {
			for _, p := range s.Spec.Ports {
				if p.TargetPort != "http" && p.TargetPort != 8080 {
					t.Errorf("service %s targets %v, want the gateway's http port", s.Metadata.Name, p.TargetPort)
				}
			}
		}
	})
	t.Run("reload recipe runs as the gateway's uid", func(t *testing.T) {
		data, err := os.ReadFile("kubernetes/debug-as-gateway.json")
		if err != nil {
			t.Fatal(err)
		}
		var prof struct {
			Security k8sSecurity `json:"securityContext"`
		}
		if err := json.Unmarshal(data, &prof); err != nil {
			t.Fatal(err)
		}
		s := prof.Security
		if s.RunAsUser == nil || *s.RunAsUser != int64(uid) || s.RunAsNonRoot == nil || !*s.RunAsNonRoot ||
			s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation || !slices.Contains(s.Capabilities.Drop, "ALL") {
			t.Errorf("debug profile %+v: want runAsUser %d, runAsNonRoot, no escalation, drop ALL (it signals the gateway as its own uid)", s, uid)
		}
		sidecar, _ := os.ReadFile("kubernetes/sidecar.yaml")
		if !strings.Contains(string(sidecar), "--custom=debug-as-gateway.json") || !strings.Contains(string(sidecar), "--target=portcullis") {
			t.Errorf("sidecar.yaml does not give the reload recipe with the debug profile")
		}
	})
}

// octal shows an optional file mode.
func octal(m *int) string {
	if m == nil {
		return "unset (0644)"
	}
	return fmt.Sprintf("%#o", *m)
}

func effective(container, pod *int64) *int64 {
	if container != nil {
		return container
	}
	return pod
}

// appListens returns the addresses the app container's nginx listens on,
// from the ConfigMaps mounted into it.
func appListens(t *testing.T, objs []k8sObject, pod k8sPod, app *k8sContainer) []string {
	t.Helper()
	listen := regexp.MustCompile(`(?m)^\s*listen\s+([^;\s]+)[^;]*;`)
	var out []string
	for _, m := range app.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			for _, cm := range findObjects(objs, "ConfigMap") {
				if cm.Metadata.Name != v.ConfigMap.Name {
					continue
				}
				for _, body := range cm.Data {
					for _, l := range listen.FindAllStringSubmatch(body, -1) {
						out = append(out, l[1])
					}
				}
			}
		}
	}
	return out
}

func checkNetworkPolicy(t *testing.T, objs []k8sObject, d k8sObject, gw *k8sContainer) {
	t.Helper()
	ports := map[string]int{}
	for _, p := range gw.Ports {
		ports[p.Name] = p.ContainerPort
	}
	var found bool
	for _, np := range findObjects(objs, "NetworkPolicy") {
		sel := np.Spec.PodSelector.MatchLabels
		if len(sel) == 0 || !subset(sel, d.Spec.Template.Metadata.Labels) {
			continue
		}
		found = true
		if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
			t.Errorf("network policy %s does not restrict Ingress", np.Metadata.Name)
		}
		for i, r := range np.Spec.Ingress {
			if len(r.Ports) == 0 {
				t.Errorf("network policy %s rule %d admits every port", np.Metadata.Name, i)
			}
			for _, p := range r.Ports {
				switch p.Port {
				case ports["http"], "http":
				case ports["metrics"], "metrics":
					if len(r.From) == 0 {
						t.Errorf("network policy %s admits the metrics port from anywhere", np.Metadata.Name)
					}
				default:
					t.Errorf("network policy %s admits port %v, which is not the gateway's", np.Metadata.Name, p.Port)
				}
			}
		}
	}
	if !found {
		t.Errorf("no NetworkPolicy selects the pod labels %v", d.Spec.Template.Metadata.Labels)
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
