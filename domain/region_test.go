package domain

import "testing"

func TestBandwidthRegion(t *testing.T) {
	tests := []struct {
		loc  Location
		want string
	}{
		{Location{CountryCode: "CN", Country: "China", Region: "Beijing", City: "Beijing"}, "North China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Nei Mongol Zizhiqu"}, "North China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Heilongjiang"}, "Northeast China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Shanghai"}, "East China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Shandong"}, "East China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Hubei"}, "Central China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Guangdong", City: "Shenzhen"}, "South China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Guangxi Zhuangzu Zizhiqu"}, "South China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Sichuan"}, "Southwest China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Xizang Zizhiqu"}, "Southwest China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Shaanxi"}, "Northwest China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Shanxi"}, "North China"},
		{Location{CountryCode: "CN", Country: "China", Region: "Xinjiang Uygur Zizhiqu"}, "Northwest China"},
		{Location{CountryCode: "CN", Country: "China", Region: "-"}, "China"},
		{Location{CountryCode: "TW", Country: "Taiwan (Province of China)", Region: "Taipei"}, "Taiwan, China"},
		{Location{CountryCode: "HK", Country: "Hong Kong", Region: "Hong Kong"}, "Hong Kong, China"},
		{Location{CountryCode: "US", Country: "United States of America", Region: "California"}, "California"},
		{Location{CountryCode: "US", Country: "United States of America", Region: "North Carolina"}, "North Carolina"},
		{Location{CountryCode: "US", Country: "United States of America", Region: "Virginia"}, RegionOtherUSA},
		{Location{CountryCode: "us", Country: "United States of America", Region: "Oregon"}, RegionOtherUSA},
		{Location{CountryCode: "IN", Country: "India", Region: "Maharashtra", City: "Mumbai"}, "Maharashtra"},
		{Location{CountryCode: "IN", Country: "India", Region: "Bihar"}, "Bihar"},
		{Location{CountryCode: "IN", Country: "India", Region: "Karnataka"}, "India"},
		{Location{CountryCode: "RU", Country: "Russian Federation", Region: "Moskva", City: "Moscow"}, "Moscow"},
		{Location{CountryCode: "RU", Country: "Russian Federation", Region: "Sankt-Peterburg", City: "Saint Petersburg"}, "Saint Petersburg"},
		{Location{CountryCode: "RU", Country: "Russian Federation", Region: "Novosibirskaya Oblast'", City: "Novosibirsk"}, RegionOtherRussia},
		{Location{CountryCode: "KR", Country: "Korea (Republic of)", Region: "Seoul"}, "South Korea"},
		{Location{CountryCode: "GB", Country: "United Kingdom of Great Britain and Northern Ireland"}, "United Kingdom"},
		{Location{CountryCode: "VN", Country: "Viet Nam"}, "Vietnam"},
		{Location{CountryCode: "TR", Country: "Turkiye"}, "Turkey"},
		{Location{CountryCode: "DE", Country: "Germany", Region: "Hessen"}, "Germany"},
		{Location{CountryCode: "BO", Country: "Bolivia (Plurinational State of)"}, "Bolivia"},
		{Location{CountryCode: "XK", Country: "Kosovo (Republic of)"}, "Kosovo"},
		{Location{}, ""},
		{Location{CountryCode: "-", Country: "-"}, ""},
	}
	for _, tt := range tests {
		if got := BandwidthRegion(tt.loc); got != tt.want {
			t.Errorf("BandwidthRegion(%+v) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}
