package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client talks to the agent's socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient makes a client of the agent listening on socket (a leading @
// names an abstract socket). It talks only to a server running as root:
// whoever else holds the socket is refused before a byte is sent.
func NewClient(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", socket)
			if err != nil {
				return nil, err
			}
			cred, err := PeerCredentials(conn)
			if err == nil && cred.Uid != 0 {
				err = fmt.Errorf("%s is served by uid %d (pid %d), not by root: it is not the vrouter agent", socket, cred.Uid, cred.Pid)
			}
			if err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
		DisableKeepAlives: true,
	}}}
}

// UnreachableError: the agent does not answer on its socket.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the vrouter agent does not answer on %s (is the vrouter DaemonSet's pod running on this node?): %v", e.Socket, e.Err)
}

// Interfaces asks for a pod's interfaces; the agent waits up to
// req.WaitSeconds for their allocation.
func (c *Client) Interfaces(ctx context.Context, req InterfacesRequest) (*Interfaces, error) {
	var out Interfaces
	timeout := time.Duration(req.WaitSeconds+5) * time.Second
	return &out, c.do(ctx, http.MethodPost, PathInterfaces, req, &out, timeout)
}

// AddPorts reports plugged ports.
func (c *Client) AddPorts(ctx context.Context, ports []Port) error {
	return c.do(ctx, http.MethodPost, PathPorts, AddPorts{Ports: ports}, nil, 30*time.Second)
}

// Ports lists the ports the agent knows.
func (c *Client) Ports(ctx context.Context) ([]Port, error) {
	var out Ports
	err := c.do(ctx, http.MethodGet, PathPorts, nil, &out, 30*time.Second)
	return out.Ports, err
}

// DeletePorts forgets the ports of a container and detaches them.
func (c *Client) DeletePorts(ctx context.Context, containerID string) error {
	return c.do(ctx, http.MethodDelete, PathPorts+"?containerID="+url.QueryEscape(containerID), nil, nil, 30*time.Second)
}

// Ready asks whether the agent can plug pods.
func (c *Client) Ready(ctx context.Context) (*Ready, error) {
	var out Ready
	return &out, c.do(ctx, http.MethodGet, PathReady, nil, &out, 10*time.Second)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &UnreachableError{Socket: c.socket, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &UnreachableError{Socket: c.socket, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Code: CodeInternal, Message: fmt.Sprintf("the vrouter agent answered %s", resp.Status)}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Details = string(data)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the vrouter agent's answer to %s %s does not decode: %w", method, path, err)
		}
	}
	return nil
}

func (e *Error) Error() string {
	if e.Details != "" {
		return e.Message + ": " + e.Details
	}
	return e.Message
}
