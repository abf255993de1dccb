package main

import (
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
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial to dir/tls.crt and dir/tls.key and returns it.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "portcullis test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporaries and rename, as a certificate manager would.
	for name, block := range map[string]*pem.Block{
		"tls.crt": {Type: "CERTIFICATE", Bytes: der},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// servedSerial connects to addr trusting roots and returns the serial of the
// certificate it presents, or -1.
func servedSerial(addr string, roots *x509.CertPool) int64 {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return -1
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestServeTLSAndCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := writeCert(t, dir, 1)
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	extra := "  tls:\n    cert_file: " + dir + "/tls.crt\n    key_file: " + dir + "/tls.key\n"
	body := testConfig(t, proxyAddr, metricsAddr, publicRoute)
	body = body[:len("server:\n")] + extra + body[len("server:\n"):]
	cfg := writeFile(t, dir, "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	roots := x509.NewCertPool()
	roots.AddCert(first)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + proxyAddr + "/public/x")
	if err != nil {
		t.Fatalf("https GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("https GET = %d over HTTP/%d, want 200 over HTTP/2", resp.StatusCode, resp.ProtoMajor)
	}
	if code, _ := g.get("http://" + proxyAddr + "/public/x"); code == http.StatusOK {
		t.Errorf("plain http on the TLS listener answered 200")
	}

	t.Run("broken pair refuses the reload", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "reload failure", func() bool {
			return g.metric(`portcullis_config_reloads_total{result="failure"}`) == "1"
		})
		if got := servedSerial(proxyAddr, roots); got != 1 {
			t.Errorf("after a refused reload the served serial = %d, want 1", got)
		}
	})
	t.Run("renewed pair is served after SIGHUP", func(t *testing.T) {
		second := writeCert(t, dir, 2)
		roots.AddCert(second)
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "the renewed certificate", func() bool { return servedSerial(proxyAddr, roots) == 2 })
	})
}
