package gateway_test

import (
	"fmt"

	"github.com/bookbridge/bookbridge/examples/gateway"
)

// The allowlist file for two Salesforce egress ranges (documentation
// addresses here) and one single address.
func ExampleAllowlistFile() {
	text, err := gateway.AllowlistFile([]string{"192.0.2.0/24", "198.51.100.0/25", "203.0.113.9"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(text)
	// Output:
	// # Written by bookbridge's gateway package: CIDR 1;
	// 192.0.2.0/24 1;
	// 198.51.100.0/25 1;
	// 203.0.113.9/32 1;
}
