// Command benchcontrol is the control plane of Serve Doctor's real-tailnet test bench.
//
// It serves Tailscale's own test control server (tailscale.com/tstest/integration/testcontrol)
// with a DERP and STUN server on loopback, plus three things the bench scenarios need:
//
//   - an admin HTTP API (see adminMux) that changes what control tells the nodes while they run:
//     HTTPS certificates on or off, MagicDNS on or off, capabilities, key expiry, renames, and
//     control itself going away and coming back;
//   - a gate in front of the ACME CA (Pebble): a TCP relay that passes, refuses or swallows
//     connections, so "ACME unreachable" and "ACME stalls" can be made without restarting
//     tailscaled;
//   - the DNS-01 hand-off: the TXT records tailscaled asks control to publish go to
//     pebble-challtestsrv, where Pebble's validator looks them up.
//
// Map responses are produced by our own stream loop (testcontrol's AltMapStream hook) so that the
// knobs are applied to every map response under our own lock; changing testcontrol's exported
// fields while it serves would be a data race.
//
// On start it prints one JSON line with its addresses to stdout; the harness reads it instead of
// sleeping. With -exit-on-eof it exits when stdin closes, so a test binary that dies takes it along.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

var (
	flagControl   = flag.String("control", "127.0.0.1:0", "address of the control server")
	flagAdmin     = flag.String("admin", "127.0.0.1:0", "address of the admin API")
	flagACME      = flag.String("acme", "127.0.0.1:0", "address of the ACME gate")
	flagUpstream  = flag.String("acme-upstream", "127.0.0.1:14000", "Pebble's ACME listener")
	flagACMECert  = flag.String("acme-cert", "", "certificate (PEM) the ACME gate serves; also trusted for Pebble's listener")
	flagACMEKey   = flag.String("acme-key", "", "key (PEM) of -acme-cert")
	flagACMECA    = flag.String("acme-ca", "", "CA (PEM) that issued Pebble's listener certificate")
	flagChallSrv  = flag.String("challtestsrv", "http://127.0.0.1:8055", "pebble-challtestsrv management URL")
	flagDomain    = flag.String("domain", "tailnet.test", "MagicDNS domain")
	flagCerts     = flag.Bool("certs", true, "HTTPS certificates on at start")
	flagExitOnEOF = flag.Bool("exit-on-eof", false, "exit when stdin reaches EOF")
	flagBackend   = flag.String("backend", "127.0.0.1:18080", "address of the HTTP backend serve proxies to")
	flagVerbose   = flag.Bool("v", false, "log testcontrol's chatter")
)

// knobs is what the admin API changes; every map response is shaped by it.
type knobs struct {
	Certs    bool                `json:"certs"`
	MagicDNS bool                `json:"magicdns"`
	Expired  bool                `json:"expired"`
	ACME     string              `json:"acme"` // pass | refuse | stall
	Control  bool                `json:"control"`
	Backend  bool                `json:"backend"`
	Caps     map[string][]string `json:"caps"`  // hostname -> capability names (absent: defaults)
	Names    map[string]string   `json:"names"` // hostname -> DNS name label it is renamed to
	SetDNS   int                 `json:"set_dns"`
	LastTXT  string              `json:"last_txt"`
}

type bench struct {
	srv *testcontrol.Server

	mu    sync.Mutex
	k     knobs
	bumpc chan struct{} // closed and replaced on every change: wakes every map stream
}

// defaultCaps mirrors what a tailnet with HTTPS and Funnel enabled hands a node.
func defaultCaps() []string {
	return []string{
		string(tailcfg.CapabilityHTTPS),
		string(tailcfg.NodeAttrFunnel),
		string(tailcfg.CapabilityFunnelPorts) + "?ports=443,8443,10000",
	}
}

func (b *bench) bump() {
	b.mu.Lock()
	close(b.bumpc)
	b.bumpc = make(chan struct{})
	b.mu.Unlock()
}

func (b *bench) snapshot() (knobs, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.k
	k.Caps = map[string][]string{}
	for h, c := range b.k.Caps {
		k.Caps[h] = slices.Clone(c)
	}
	k.Names = map[string]string{}
	for h, n := range b.k.Names {
		k.Names[h] = n
	}
	return k, b.bumpc
}

// shape applies the knobs to one map response for one node.
func (b *bench) shape(res *tailcfg.MapResponse, k knobs) {
	host := res.Node.Hostinfo.Hostname()
	label := host
	if n, ok := k.Names[host]; ok {
		label = n
	}
	name := label + "." + *flagDomain
	res.Node.Name = name + "."
	caps := defaultCaps()
	if c, ok := k.Caps[host]; ok {
		caps = c
	}
	res.Node.CapMap = tailcfg.NodeCapMap{}
	res.Node.Capabilities = nil
	for _, c := range caps {
		res.Node.CapMap[tailcfg.NodeCapability(c)] = nil
		res.Node.Capabilities = append(res.Node.Capabilities, tailcfg.NodeCapability(c))
	}
	if k.Expired {
		res.Node.KeyExpiry = time.Now().Add(-time.Minute)
	}
	dns := &tailcfg.DNSConfig{}
	if res.DNSConfig != nil {
		dns = res.DNSConfig
	}
	dns.Proxied = k.MagicDNS
	dns.Domains = []string{*flagDomain}
	dns.CertDomains = nil
	if k.Certs {
		dns.CertDomains = []string{name}
	}
	res.DNSConfig = dns
	// A node that logged in again (a scenario's logout or key expiry) registers a new node
	// under the same hostname, and testcontrol keeps the old one, online like every node here.
	// Real control names machines uniquely; so does the bench: of several nodes with one
	// hostname only the newest (highest ID) is a peer, and never a copy of the node itself.
	newest := map[string]tailcfg.NodeID{}
	for _, p := range res.Peers {
		h := p.Hostinfo.Hostname()
		if id, ok := newest[h]; !ok || p.ID > id {
			newest[h] = p.ID
		}
	}
	kept := make([]*tailcfg.Node, 0, len(res.Peers))
	for _, p := range res.Peers {
		h := p.Hostinfo.Hostname()
		if newest[h] == p.ID && h != host {
			kept = append(kept, p)
		}
	}
	res.Peers = kept
	for _, p := range res.Peers {
		ph := p.Hostinfo.Hostname()
		pl := ph
		if n, ok := k.Names[ph]; ok {
			pl = n
		}
		p.Name = pl + "." + *flagDomain + "."
	}
}

// stream answers one map poll. Non-streaming polls carry the node's endpoints and Hostinfo:
// record them (testcontrol's own handler would) and wake the streams so peers learn them.
func (b *bench) stream(ctx context.Context, w testcontrol.MapStreamWriter, req *tailcfg.MapRequest) {
	node := b.srv.Node(req.NodeKey)
	if node == nil {
		return
	}
	if !req.Stream || req.Hostinfo != nil || len(req.Endpoints) > 0 {
		if req.Hostinfo != nil {
			node.Hostinfo = req.Hostinfo.View()
		}
		if len(req.Endpoints) > 0 {
			node.Endpoints = req.Endpoints
		}
		if !req.DiscoKey.IsZero() {
			node.DiscoKey = req.DiscoKey
		}
		node.Cap = req.Version
		b.srv.UpdateNode(node)
		b.bump()
	}
	if !req.Stream {
		_ = w.SendMapMessage(&tailcfg.MapResponse{})
		return
	}
	var last []byte
	keepAlive := time.NewTicker(30 * time.Second)
	defer keepAlive.Stop()
	for {
		k, wake := b.snapshot()
		res, err := b.srv.MapResponse(req)
		if err != nil || res == nil {
			return
		}
		b.shape(res, k)
		enc, _ := json.Marshal(res)
		if !bytes.Equal(enc, last) {
			if err := w.SendMapMessage(res); err != nil {
				return
			}
			last = enc
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-keepAlive.C:
			if err := w.SendMapMessage(&tailcfg.MapResponse{KeepAlive: true}); err != nil {
				return
			}
		}
	}
}

// onSetDNS publishes a DNS-01 TXT record through pebble-challtestsrv.
func (b *bench) onSetDNS(req *tailcfg.SetDNSRequest) error {
	body, _ := json.Marshal(map[string]string{"host": dnsFQDN(req.Name), "value": req.Value})
	resp, err := http.Post(*flagChallSrv+"/set-txt", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("challtestsrv: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("challtestsrv: %s: %s", resp.Status, msg)
	}
	b.mu.Lock()
	b.k.SetDNS++
	b.k.LastTXT = req.Name
	b.mu.Unlock()
	return nil
}

func dnsFQDN(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// switchable is the control listener: it can stop accepting and drop every connection (control
// gone) and later listen again on the same address.
type switchable struct {
	addr    string
	handler http.Handler

	mu    sync.Mutex
	srv   *http.Server
	conns map[net.Conn]struct{}
}

type trackedListener struct {
	net.Listener
	s *switchable
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns[c] = struct{}{}
		l.s.mu.Unlock()
	}
	return c, err
}

func (s *switchable) up() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s.handler}
	go s.srv.Serve(trackedListener{ln, s})
	return nil
}

func (s *switchable) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Close()
	for c := range s.conns {
		c.Close() // hijacked Noise connections are not closed by Server.Close
	}
	s.conns = map[net.Conn]struct{}{}
	s.srv = nil
}

// gateListener hands on the connections the ACME mode lets through: "refuse" closes them at
// once (a fast failure); the rest go to the TLS reverse proxy in front of Pebble.
type gateListener struct {
	net.Listener
	b *bench
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		k, _ := g.b.snapshot()
		if k.ACME == "refuse" {
			c.Close()
			continue
		}
		return c, nil
	}
}

// acmeProxy is the reverse proxy in front of Pebble. It keeps the client's Host so that Pebble's
// URLs point back at the gate, and it adds the Location header Pebble leaves out of a finalize
// answer: without it Go's ACME client cannot follow an order that is still "processing" (it posts
// to an empty URL), which Let's Encrypt never makes it do.
func acmeProxy() (http.Handler, error) {
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(*flagACMECA)
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(pem)
	upstream := &url.URL{Scheme: "https", Host: *flagUpstream}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		ModifyResponse: func(res *http.Response) error {
			id, ok := strings.CutPrefix(res.Request.URL.Path, "/finalize-order/")
			if ok && res.Header.Get("Location") == "" {
				res.Header.Set("Location", "https://"+res.Request.Host+"/my-order/"+id)
			}
			return nil
		},
	}, nil
}

func (b *bench) adminMux(ctl, backend *switchable) *http.ServeMux {
	m := http.NewServeMux()
	set := func(f func(k *knobs, q map[string]string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			q := map[string]string{}
			for key, v := range r.URL.Query() {
				q[key] = v[0]
			}
			b.mu.Lock()
			err := f(&b.k, q)
			b.mu.Unlock()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			b.bump()
			b.writeState(w)
		}
	}
	onOff := func(q map[string]string) (bool, error) {
		switch q["on"] {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return false, fmt.Errorf("on=1 or on=0")
	}
	m.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) { b.writeState(w) })
	m.HandleFunc("/certs", set(func(k *knobs, q map[string]string) (err error) {
		k.Certs, err = onOff(q)
		return
	}))
	m.HandleFunc("/magicdns", set(func(k *knobs, q map[string]string) (err error) {
		k.MagicDNS, err = onOff(q)
		return
	}))
	m.HandleFunc("/expire", set(func(k *knobs, q map[string]string) (err error) {
		k.Expired, err = onOff(q)
		if err == nil {
			// Also makes control's register answer say "node key expired".
			go b.srv.SetExpireAllNodes(k.Expired)
		}
		return
	}))
	m.HandleFunc("/acme", set(func(k *knobs, q map[string]string) error {
		switch q["mode"] {
		case "pass", "refuse", "stall":
			k.ACME = q["mode"]
			return nil
		}
		return fmt.Errorf("mode=pass|refuse|stall")
	}))
	m.HandleFunc("/caps", set(func(k *knobs, q map[string]string) error {
		host := q["host"]
		if host == "" {
			return fmt.Errorf("host= is required")
		}
		if _, ok := q["reset"]; ok {
			delete(k.Caps, host)
			return nil
		}
		caps := []string{}
		for _, c := range strings.Split(q["set"], ",") {
			if c != "" {
				caps = append(caps, c)
			}
		}
		k.Caps[host] = caps
		return nil
	}))
	m.HandleFunc("/rename", set(func(k *knobs, q map[string]string) error {
		host, to := q["host"], q["to"]
		if host == "" {
			return fmt.Errorf("host= is required")
		}
		if to == "" || to == host {
			delete(k.Names, host)
		} else {
			k.Names[host] = to
		}
		return nil
	}))
	// Control gone (every connection dropped, nothing listening) and back on the same port; the
	// backend likewise (serve then answers 502).
	for path, sw := range map[string]*switchable{"/control": ctl, "/backend": backend} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			up := r.URL.Query().Get("on") == "1"
			if up {
				if err := sw.up(); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
			} else {
				sw.down()
			}
			b.mu.Lock()
			if sw == ctl {
				b.k.Control = up
			} else {
				b.k.Backend = up
			}
			b.mu.Unlock()
			b.writeState(w)
		})
	}
	return m
}

func (b *bench) writeState(w http.ResponseWriter) {
	k, _ := b.snapshot()
	type node struct {
		Hostname string   `json:"hostname"`
		Name     string   `json:"name"`
		Key      string   `json:"key"`
		IPs      []string `json:"ips"`
	}
	var nodes []node
	for _, n := range b.srv.AllNodes() {
		var ips []string
		for _, a := range n.Addresses {
			ips = append(ips, a.Addr().String())
		}
		nodes = append(nodes, node{n.Hostinfo.Hostname(), n.Name, n.Key.String(), ips})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"knobs": k, "nodes": nodes})
}

// serveBackend is the app behind serve: it names itself and echoes what it was asked, so a test
// can tell a request that went through serve (Tailscale adds its identity headers) from one that
// did not.
func serveBackend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "bench backend: %s %s\n", r.Method, r.URL.Path)
	if who := r.Header.Get("Tailscale-User-Login"); who != "" {
		fmt.Fprintf(w, "through serve for %s\n", who)
	}
}

// tb is the testing.TB that integration.RunDERPAndSTUN wants outside a test: failures end the
// program, cleanups are left to process exit.
type tb struct{ testing.TB }

func (tb) Helper()                   {}
func (tb) Cleanup(func())            {}
func (tb) Name() string              { return "benchcontrol" }
func (tb) Failed() bool              { return false }
func (tb) Logf(f string, a ...any)   { log.Printf(f, a...) }
func (tb) Log(a ...any)              { log.Print(a...) }
func (tb) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }
func (tb) Fatal(a ...any)            { log.Fatal(a...) }
func (tb) Errorf(f string, a ...any) { log.Fatalf(f, a...) }
func (tb) Error(a ...any)            { log.Fatal(a...) }
func (tb) FailNow()                  { log.Fatal("FailNow") }
func (tb) Fail()                     { log.Fatal("Fail") }
func (tb) Skip(a ...any)             { log.Fatal(a...) }
func (tb) Skipf(f string, a ...any)  { log.Fatalf(f, a...) }
func (tb) SkipNow()                  { log.Fatal("SkipNow") }
func (tb) Skipped() bool             { return false }
func (tb) Setenv(string, string)     { log.Fatal("Setenv") }
func (tb) TempDir() string           { log.Fatal("TempDir"); return "" }
func (tb) Context() context.Context  { return context.Background() }
func (tb) Chdir(string)              { log.Fatal("Chdir") }
func (tb) Output() io.Writer         { return os.Stderr }
func (tb) Attr(string, string)       {}
func (tb) ArtifactDir() string       { log.Fatal("ArtifactDir"); return "" }

func main() {
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	logf := logger.Discard
	if *flagVerbose {
		logf = log.Printf
	}
	derpMap := integration.RunDERPAndSTUN(tb{}, logf, "127.0.0.1")

	b := &bench{
		k: knobs{
			Certs:    *flagCerts,
			MagicDNS: true,
			ACME:     "pass",
			Control:  true,
			Backend:  true,
			Caps:     map[string][]string{},
			Names:    map[string]string{},
		},
		bumpc: make(chan struct{}),
	}
	ctl := &switchable{addr: *flagControl, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", ctl.addr)
	if err != nil {
		log.Fatal(err)
	}
	ctl.addr = ln.Addr().String()
	ln.Close() // up() listens again on the same, now known, port
	b.srv = &testcontrol.Server{
		DERPMap:          derpMap,
		DNSConfig:        &tailcfg.DNSConfig{Proxied: true},
		MagicDNSDomain:   *flagDomain,
		AllNodesSameUser: true,
		AllOnline:        true,
		ExplicitBaseURL:  "http://" + ctl.addr,
		OnSetDNS:         b.onSetDNS,
		AltMapStream:     b.stream,
		Logf:             logf,
	}
	ctl.handler = b.srv
	if err := ctl.up(); err != nil {
		log.Fatal(err)
	}

	acme, err := net.Listen("tcp", *flagACME)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(*flagACMECert, *flagACMEKey)
	if err != nil {
		log.Fatalf("ACME gate: %v", err)
	}
	proxy, err := acmeProxy()
	if err != nil {
		log.Fatalf("ACME gate: %v", err)
	}
	gate := tls.NewListener(&gateListener{Listener: acme, b: b}, &tls.Config{Certificates: []tls.Certificate{cert}})
	go http.Serve(gate, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k, _ := b.snapshot(); k.ACME == "stall" {
			// An ACME server that takes the request and never answers: the client waits until
			// its own deadline.
			<-r.Context().Done()
			return
		}
		proxy.ServeHTTP(w, r)
	}))

	admin, err := net.Listen("tcp", *flagAdmin)
	if err != nil {
		log.Fatal(err)
	}
	backend := &switchable{addr: *flagBackend, conns: map[net.Conn]struct{}{}, handler: http.HandlerFunc(serveBackend)}
	if err := backend.up(); err != nil {
		log.Fatal(err)
	}
	go http.Serve(admin, b.adminMux(ctl, backend))

	ready, _ := json.Marshal(map[string]string{
		"control": "http://" + ctl.addr,
		"admin":   "http://" + admin.Addr().String(),
		"acme":    acme.Addr().String(),
		"backend": backend.addr,
	})
	fmt.Println(string(ready))

	if *flagExitOnEOF {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	select {}
}
