package console_test

import (
	"fmt"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/console"
)

func ExampleFormatMoney() {
	// Amounts are shown exactly as the payload wrote them, with their
	// currency and thousands separators.
	fmt.Println(console.FormatMoney("EUR", "495000.75"))
	fmt.Println(console.FormatMoney("JPY", "1200000"))
	fmt.Println(console.FormatMoney("USD", "1e5"))
	// Output:
	// EUR 495,000.75
	// JPY 1,200,000
	// USD 1e5
}
