package domain

// Region names of bandwidth machines that are not a country's name. They are
// the names the machine-info contract values, so they must not change.
const (
	RegionOtherUSA    = "Other Regions of the USA"
	RegionOtherRussia = "Other parts of Russia"
)

// chinaRegions groups China's provinces, as IP2Location names them, into
// the country's seven macro-regions.
var chinaRegions = map[string]string{
	"Beijing": "North China", "Tianjin": "North China", "Hebei": "North China", "Shanxi": "North China",
	"Nei Mongol": "North China",
	"Guangdong":  "South China", "Guangxi": "South China", "Guangxi Zhuangzu": "South China", "Hainan": "South China",
	"Henan": "Central China", "Hubei": "Central China", "Hunan": "Central China",
	"Shanghai": "East China", "Jiangsu": "East China", "Zhejiang": "East China", "Anhui": "East China",
	"Jiangxi": "East China", "Shandong": "East China", "Fujian": "East China",
	"Shaanxi": "Northwest China", "Gansu": "Northwest China", "Qinghai": "Northwest China",
	"Ningxia": "Northwest China", "Ningxia Huizu": "Northwest China", "Xinjiang": "Northwest China",
	"Sichuan": "Southwest China", "Chongqing": "Southwest China", "Guizhou": "Southwest China",
	"Yunnan": "Southwest China", "Xizang": "Southwest China",
	"Liaoning": "Northeast China", "Jilin": "Northeast China", "Heilongjiang": "Northeast China",
	"Taiwan": "Taiwan, China", "Hong Kong": "Hong Kong, China",
}

// usLargestStates are the ten most populous US states; each is its own
// region, the rest of the country is one.
var usLargestStates = map[string]bool{
	"California": true, "Texas": true, "Florida": true, "New York": true, "Pennsylvania": true,
	"Illinois": true, "Ohio": true, "Georgia": true, "Michigan": true, "North Carolina": true,
}

// indiaStates are India's states that are regions of their own.
var indiaStates = map[string]bool{"Uttar Pradesh": true, "Maharashtra": true, "Bihar": true}

// renamedCountries are the IP2Location long names the original node replaces
// with a common one.
var renamedCountries = map[string]string{
	"Taiwan (Province of China)": "Taiwan, China",
	"Hong Kong":                  "Hong Kong, China",
	"Korea (the Republic of)":    "South Korea",
	"Viet Nam":                   "Vietnam",
	"Turkiye":                    "Turkey",
	"United Kingdom of Great Britain and Northern Ireland": "United Kingdom",
	"Netherlands (Kingdom of the)":                         "Netherlands",
}

// BandwidthRegion names the region a bandwidth machine at loc counts in,
// exactly as the original node names it from the IP2Location record (the
// contract rewards by these strings, parity/region.json): China by
// macro-region, with "<Region>, China" for any other province name; India's
// Uttar Pradesh, Maharashtra and Bihar by name and "<Region>, India"
// otherwise; the ten most populous US states by name and "Other Regions of
// the USA" otherwise; Moscow and Saint Petersburg by city and "Other parts
// of Russia" otherwise; six long names renamed; any other record its
// country's long name as the database spells it.
func BandwidthRegion(loc Location) string {
	switch loc.Country {
	case "China":
		if r, ok := chinaRegions[loc.Region]; ok {
			return r
		}
		return loc.Region + ", " + loc.Country
	case "India":
		if indiaStates[loc.Region] {
			return loc.Region
		}
		return loc.Region + ", " + loc.Country
	case "United States of America":
		if usLargestStates[loc.Region] {
			return loc.Region
		}
		return RegionOtherUSA
	case "Russian Federation":
		if loc.City == "Moscow" || loc.City == "Saint Petersburg" {
			return loc.City
		}
		return RegionOtherRussia
	}
	if r, ok := renamedCountries[loc.Country]; ok {
		return r
	}
	return loc.Country
}
