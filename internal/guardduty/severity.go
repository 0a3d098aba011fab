package guardduty

// Band is a GuardDuty severity level as the GuardDuty console shows it.
type Band string

// The GuardDuty severity bands.
const (
	Low      Band = "Low"
	Medium   Band = "Medium"
	High     Band = "High"
	Critical Band = "Critical"
)

// BandOf maps a numeric severity to its band, using half-open intervals so
// that every value between 0 and 10 has exactly one band: Low [0, 4),
// Medium [4, 7), High [7, 9), Critical [9, 10]. AWS documents the bands as
// 1.0–3.9, 4.0–6.9, 7.0–8.9 and 9.0–10.0; values such as 3.95 that fall
// between those written bounds belong to the lower band.
func BandOf(severity float64) Band {
	switch {
	case severity >= 9:
		return Critical
	case severity >= 7:
		return High
	case severity >= 4:
		return Medium
	default:
		return Low
	}
}
