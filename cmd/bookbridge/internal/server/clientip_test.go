package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client, header ignored", "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7"},
		{"trusted gateway, one hop", "127.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"forged entry before the gateway's", "127.0.0.1:4000", []string{"203.0.113.66, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "127.0.0.1:4000", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several header lines", "127.0.0.1:4000", []string{"203.0.113.66", "198.51.100.1"}, "198.51.100.1"},
		{"trusted gateway without header", "127.0.0.1:4000", nil, "127.0.0.1"},
		{"garbage in header", "127.0.0.1:4000", []string{"not-an-ip"}, "127.0.0.1"},
		{"ipv6 client", "[::1]:4000", []string{"2001:db8::1"}, "::1"},
		{"mapped v4 peer", "[::ffff:127.0.0.1]:4000", []string{"198.51.100.9"}, "198.51.100.9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = c.remote
			for _, h := range c.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := ClientAddr(r, trusted).String(); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}
