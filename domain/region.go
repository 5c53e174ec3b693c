package domain

import "strings"

// Region names of bandwidth machines that are not a country's name. They are
// the names the machine-info contract values, so they must not change.
const (
	RegionOtherUSA    = "Other Regions of the USA"
	RegionOtherRussia = "Other parts of Russia"
)

// chinaRegions groups China's provinces (as IP2Location names them, matched
// by prefix, lower case) into the country's seven macro-regions.
var chinaRegions = []struct{ prefix, region string }{
	{"beijing", "North China"}, {"tianjin", "North China"}, {"hebei", "North China"},
	{"shanxi", "North China"}, {"nei mongol", "North China"}, {"inner mongolia", "North China"},
	{"liaoning", "Northeast China"}, {"jilin", "Northeast China"}, {"heilongjiang", "Northeast China"},
	{"shanghai", "East China"}, {"jiangsu", "East China"}, {"zhejiang", "East China"}, {"anhui", "East China"},
	{"fujian", "East China"}, {"jiangxi", "East China"}, {"shandong", "East China"},
	{"henan", "Central China"}, {"hubei", "Central China"}, {"hunan", "Central China"},
	{"guangdong", "South China"}, {"guangxi", "South China"}, {"hainan", "South China"},
	{"chongqing", "Southwest China"}, {"sichuan", "Southwest China"}, {"guizhou", "Southwest China"},
	{"yunnan", "Southwest China"}, {"xizang", "Southwest China"}, {"tibet", "Southwest China"},
	{"shaanxi", "Northwest China"}, {"gansu", "Northwest China"}, {"qinghai", "Northwest China"},
	{"ningxia", "Northwest China"}, {"xinjiang", "Northwest China"},
	{"taiwan", "Taiwan, China"}, {"hong kong", "Hong Kong, China"}, {"macao", "Macao, China"}, {"macau", "Macao, China"},
}

// usLargestStates are the ten most populous US states (2020 census); each is
// its own region, the rest of the country is one.
var usLargestStates = map[string]bool{
	"California": true, "Texas": true, "Florida": true, "New York": true, "Pennsylvania": true,
	"Illinois": true, "Ohio": true, "Georgia": true, "North Carolina": true, "Michigan": true,
}

// indiaStates are India's states that are regions of their own.
var indiaStates = map[string]bool{"Uttar Pradesh": true, "Maharashtra": true, "Bihar": true}

// shortCountryNames replaces the long official names geolocation databases
// use ("Korea (Republic of)") with the common ones people and the contract
// use ("South Korea"), by ISO code.
var shortCountryNames = map[string]string{
	"AE": "United Arab Emirates", "BO": "Bolivia", "BN": "Brunei", "BS": "Bahamas", "CD": "DR Congo",
	"CG": "Congo", "CI": "Ivory Coast", "CV": "Cape Verde", "CZ": "Czechia", "FM": "Micronesia",
	"GB": "United Kingdom", "GM": "Gambia", "IR": "Iran", "KP": "North Korea", "KR": "South Korea",
	"LA": "Laos", "MD": "Moldova", "MK": "North Macedonia", "NL": "Netherlands", "PS": "Palestine",
	"RU": "Russia", "SY": "Syria", "TR": "Turkey", "TZ": "Tanzania", "US": "United States",
	"VA": "Vatican City", "VE": "Venezuela", "VN": "Vietnam", "SZ": "Eswatini", "PH": "Philippines",
	"DO": "Dominican Republic", "NE": "Niger", "SD": "Sudan", "KM": "Comoros", "MH": "Marshall Islands",
	"KY": "Cayman Islands", "TC": "Turks and Caicos Islands", "VG": "British Virgin Islands",
	"VI": "US Virgin Islands", "BQ": "Caribbean Netherlands", "MF": "Saint Martin", "FK": "Falkland Islands",
}

// BandwidthRegion names the region a bandwidth machine at loc counts in:
// China by macro-region (Taiwan, Hong Kong and Macao as "…, China"), the ten
// most populous US states by name and the rest of the USA as one region,
// India's Uttar Pradesh, Maharashtra and Bihar by name, Russia's Moscow and
// Saint Petersburg by city and the rest of Russia as one region, and any
// other place by its country's short common name. An unknown location has
// no region ("").
func BandwidthRegion(loc Location) string {
	code := strings.ToUpper(strings.TrimSpace(loc.CountryCode))
	switch code {
	case "CN":
		region := strings.ToLower(strings.TrimSpace(loc.Region))
		for _, r := range chinaRegions {
			if strings.HasPrefix(region, r.prefix) {
				return r.region
			}
		}
		return "China"
	case "TW":
		return "Taiwan, China"
	case "HK":
		return "Hong Kong, China"
	case "MO":
		return "Macao, China"
	case "US":
		if usLargestStates[loc.Region] {
			return loc.Region
		}
		return RegionOtherUSA
	case "IN":
		if indiaStates[loc.Region] {
			return loc.Region
		}
		return "India"
	case "RU":
		switch city, region := strings.ToLower(loc.City), strings.ToLower(loc.Region); {
		case city == "moscow" || city == "moskva" || (city == "" && region == "moskva"):
			return "Moscow"
		case city == "saint petersburg" || city == "st petersburg" || city == "sankt-peterburg" || (city == "" && region == "sankt-peterburg"):
			return "Saint Petersburg"
		}
		return RegionOtherRussia
	case "", "-":
		return ""
	}
	if name, ok := shortCountryNames[code]; ok {
		return name
	}
	return ShortCountryName(loc.Country)
}

// ShortCountryName drops the qualifier geolocation databases append to some
// official names ("Bolivia (Plurinational State of)" → "Bolivia").
func ShortCountryName(long string) string {
	if i := strings.Index(long, " ("); i > 0 {
		long = long[:i]
	}
	return strings.TrimSpace(long)
}
