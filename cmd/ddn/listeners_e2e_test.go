package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/internal/ddnproc"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ddn-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndSeparateAdminListener runs the binary with a certificate and
// AdminAddr: both listeners speak TLS only; the public one serves agents
// and health but no metrics or admin API; the admin one serves those, with
// the token.
func TestTLSAndSeparateAdminListener(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	public, admin := ddnproc.FreeAddr(t), ddnproc.FreeAddr(t)
	n := ddnproc.Run(t, ddnproc.Spec{Bin: bin, Dir: dir, Addr: public, TLS: &tls.Config{RootCAs: pool}, Env: []string{
		"DDN_NODEID=tls-node", "DDN_MONGODB_URI=memory://", "DDN_CERTIFICATE_CERT=" + certFile, "DDN_CERTIFICATE_KEY=" + keyFile,
		"DDN_ADMINADDR=" + admin, "DDN_ADMIN_TOKEN=tls-admin-token", "DDN_CHAIN_PRIVATEKEY=" + testPrivateKey, "DDN_LOGLEVEL=debug"}})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(url, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for url, want := range map[string]int{
		"https://" + public + "/healthz":                   200,
		"https://" + public + "/metrics":                   404,
		"https://" + public + "/metrics/prometheus":        404,
		"https://" + public + "/api/v0/admin/outbox":       404,
		"https://" + admin + "/metrics":                    200,
		"https://" + admin + "/metrics/prometheus":         200,
		"https://" + admin + "/healthz":                    200,
		"https://" + admin + "/websocket":                  404,
		"https://" + admin + "/api/v0/admin/outbox?x=wrng": 401,
	} {
		if got := get(url, ""); got != want {
			t.Errorf("GET %s = %d, want %d", url, got, want)
		}
	}
	if got := get("https://"+admin+"/api/v0/admin/outbox", "tls-admin-token"); got != 200 {
		t.Errorf("admin outbox with the token = %d", got)
	}
	// Plain HTTP is refused on both.
	for _, addr := range []string{public, admin} {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Errorf("%s serves plain HTTP", addr)
			}
		}
	}
	// An agent over wss.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+public+"/websocket", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	body := `{"version":0,"timestamp":1,"id":1,"type":1,"body":{"machine_id":"tls-1","project":"deeplink","container_id":"","staking_type":0}}`
	if err := c.Write(ctx, websocket.MessageText, []byte(body)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"code":0,`) {
		t.Fatalf("online over wss: %s %v", data, err)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	n.Stop(t)
	logs := n.Logs()
	if strings.Contains(logs, "tls-admin-token") || strings.Contains(logs, testPrivateKey) {
		t.Fatal("a secret appears in the logs")
	}
	if !strings.Contains(logs, "REDACTED") {
		t.Fatal("the startup configuration log shows no redacted secret: is it still logged?")
	}
}

// testPrivateKey is a throwaway chain key that must never reach the logs.
const testPrivateKey = "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63"
