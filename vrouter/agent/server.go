package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

// server serves the CNI plugin's API on the agent's unix socket.
type server struct {
	agent *Agent
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentapi.PathInterfaces, s.interfaces)
	mux.HandleFunc("POST "+agentapi.PathPorts, s.addPorts)
	mux.HandleFunc("GET "+agentapi.PathPorts, s.listPorts)
	mux.HandleFunc("DELETE "+agentapi.PathPorts, s.deletePorts)
	mux.HandleFunc("GET "+agentapi.PathReady, s.ready)
	return mux
}

// serve runs the API until ctx ends.
func (s *server) serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.onlyRoot(s.handler()), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			cred, err := agentapi.PeerCredentials(c)
			return context.WithValue(ctx, peerKey{}, peer{cred: cred, err: err})
		}}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// peer is who connected: SO_PEERCRED, read when the connection came.
type peer struct {
	cred *unix.Ucred
	err  error
}

type peerKey struct{}

// onlyRoot answers root alone: the socket's directory already keeps
// everyone else out; this holds if the socket is reached another way.
func (s *server) onlyRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		if p.err != nil || p.cred == nil || p.cred.Uid != 0 {
			who := fmt.Sprintf("a caller whose credentials cannot be read (%v)", p.err)
			if p.cred != nil {
				who = fmt.Sprintf("uid %d (pid %d)", p.cred.Uid, p.cred.Pid)
			}
			log.FromContext(r.Context()).Info("refused a caller that is not root", "caller", who, "method", r.Method, "path", r.URL.Path)
			s.agent.metrics.errors.WithLabelValues("forbidden").Inc()
			writeError(w, &agentapi.Error{Code: agentapi.CodeForbidden, Message: "the vrouter agent answers root alone; refused " + who})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) interfaces(w http.ResponseWriter, r *http.Request) {
	var req agentapi.InterfacesRequest
	if !decode(w, r, &req) {
		return
	}
	if req.PodNamespace == "" || req.PodName == "" {
		writeError(w, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "podNamespace and podName are required"})
		return
	}
	start := time.Now()
	itfs, err := s.agent.resolver.Interfaces(r.Context(), req)
	s.agent.metrics.resolveSeconds.Observe(time.Since(start).Seconds())
	log.FromContext(r.Context()).V(1).Info("interfaces", "pod", req.PodNamespace+"/"+req.PodName, "seconds", time.Since(start).Seconds())
	if err != nil {
		s.agent.metrics.errors.WithLabelValues("interfaces").Inc()
		writeError(w, err)
		return
	}
	// The plugin makes the host ends next; they are not the reconcile's to remove.
	s.agent.expectPorts(req.ContainerID, itfs.Interfaces, 2*time.Minute)
	writeJSON(w, http.StatusOK, itfs)
}

func (s *server) addPorts(w http.ResponseWriter, r *http.Request) {
	var req agentapi.AddPorts
	if !decode(w, r, &req) {
		return
	}
	if len(req.Ports) == 0 {
		writeError(w, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "no ports"})
		return
	}
	for _, p := range req.Ports {
		if p.ContainerID != req.Ports[0].ContainerID || p.HostIfName == "" || p.Network == "" {
			writeError(w, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "every port needs the same containerID, a hostIfName and a network"})
			return
		}
	}
	if err := s.agent.resolver.verifyPorts(r.Context(), req.Ports); err != nil {
		s.agent.metrics.errors.WithLabelValues("forbidden").Inc()
		log.FromContext(r.Context()).Info("refused ports the control plane does not back", "container", req.Ports[0].ContainerID, "reason", err.Message)
		writeError(w, err)
		return
	}
	for _, p := range req.Ports {
		if err := s.agent.checkHostPorts(p); err != nil {
			s.agent.metrics.errors.WithLabelValues("ports").Inc()
			writeError(w, err)
			return
		}
	}
	if err := s.agent.ports.Add(req.Ports); err != nil {
		var taken *HostPortTaken
		if errors.As(err, &taken) {
			s.agent.metrics.errors.WithLabelValues("ports").Inc()
			log.FromContext(r.Context()).Info("refused a host port another pod holds", "container", req.Ports[0].ContainerID, "reason", taken.Error())
			writeError(w, &agentapi.Error{Code: agentapi.CodeHostPortTaken, Message: taken.Error()})
			return
		}
		writeError(w, internal(err))
		return
	}
	// Who each host end belongs to, in the kernel too: a store lost later
	// is read back from there (restorePorts).
	if err := labelPorts(req.Ports); err != nil {
		_ = s.agent.ports.Delete(req.Ports[0].ContainerID)
		writeError(w, internal(err))
		return
	}
	for _, p := range req.Ports {
		s.agent.settlePorts(p.HostIfName)
	}
	// Attach the ports now: the pod's traffic must flow when ADD returns.
	// The reconcile that does it began after these ports were added; the
	// ADDs that come meanwhile share it. A problem of another network does
	// not fail this pod.
	start := time.Now()
	out, gaveUp := s.agent.reconciles.do(r.Context())
	if gaveUp != nil {
		// The plugin stopped waiting: its ADD fails and the runtime's DEL
		// removes the ports.
		writeError(w, internal(fmt.Errorf("stopped waiting for the dataplane: %w", gaveUp)))
		return
	}
	state, err := out.state, out.err
	log.FromContext(r.Context()).V(1).Info("ports attached", "container", req.Ports[0].ContainerID, "seconds", time.Since(start).Seconds())
	for _, p := range req.Ports {
		why := attached(state, p)
		if problem := dataplane.HostPortProblem(err, p.HostIfName); why == "" && len(p.HostPorts) > 0 && problem != nil {
			why = "its host ports are not forwarded: " + problem.Error()
		}
		if why != "" {
			s.agent.metrics.errors.WithLabelValues("ports").Inc()
			_ = s.agent.ports.Delete(p.ContainerID)
			s.agent.trigger()
			msg := fmt.Sprintf("failed to attach %s (%s) to network %s: %s", p.IfName, p.HostIfName, p.Network, why)
			if err != nil {
				msg += " (" + err.Error() + ")"
			}
			writeError(w, &agentapi.Error{Code: agentapi.CodeInternal, Message: msg})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listPorts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, agentapi.Ports{Ports: s.agent.ports.List()})
}

func (s *server) deletePorts(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("containerID")
	if id == "" {
		writeError(w, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "containerID is required"})
		return
	}
	if err := s.agent.ports.Delete(id); err != nil {
		writeError(w, internal(err))
		return
	}
	s.agent.trigger()
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) ready(w http.ResponseWriter, _ *http.Request) {
	ready, reason := s.agent.isReady()
	writeJSON(w, http.StatusOK, agentapi.Ready{Ready: ready, Reason: reason})
}

func decode(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		writeError(w, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "the request does not decode: " + err.Error()})
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, e *agentapi.Error) {
	writeJSON(w, agentapi.StatusFor(e.Code), e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
