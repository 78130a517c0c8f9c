package term

import (
	"math"
	"strconv"
	"strings"
)

// formatFloat prints f as Elixir 1.14 on Erlang/OTP 25 inspects a float:
// the shortest digits that read back as f. Values from 0.1 up to 1e16 print
// in decimal notation. Smaller values print in decimal while that is no
// longer than the exponent form, and larger ones in the exponent form.
// testdata/floats.txt holds that runtime's output for 2814 values.
//
// NOTE: NaN and infinities have no Erlang form, so they print as Go does
// ("NaN", "+Inf", "-Inf").
func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if f < 0 {
		sign = "-"
	}
	digits, point := shortestDigits(math.Abs(f))
	return sign + insertDecimal(digits, point)
}

// shortestDigits returns the shortest digit string (no trailing zeros) and
// the decimal point position point such that 0.digits * 10^point reads back
// as f, for f > 0.
func shortestDigits(f float64) (string, int) {
	s := strconv.FormatFloat(f, 'e', -1, 64) // like "1.2345e+06"
	mant, expPart, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expPart)
	digits := strings.Replace(mant, ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		digits = "0"
	}
	return digits, exp + 1
}

// insertDecimal places the decimal point in digits, whose value is
// 0.digits * 10^point.
func insertDecimal(digits string, point int) string {
	l := len(digits)
	switch {
	case point == 0:
		return "0." + digits
	case point < 0:
		expText := strconv.Itoa(point - 1)
		expCost := len(expText) + 2
		if l == 1 {
			expCost++
		}
		if 2-point <= expCost {
			return "0." + strings.Repeat("0", -point) + digits
		}
		return exponentForm(digits, expText)
	case point >= l:
		if point <= 16 {
			return digits + strings.Repeat("0", point-l) + ".0"
		}
		return exponentForm(digits, strconv.Itoa(point-1))
	}
	return digits[:point] + "." + digits[point:]
}

func exponentForm(digits, expText string) string {
	if len(digits) == 1 {
		return digits + ".0e" + expText
	}
	return digits[:1] + "." + digits[1:] + "e" + expText
}
