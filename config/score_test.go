package config

import (
	"strings"
	"testing"
	"time"
)

func TestScoreKeys(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Score.GPUCatalog != "" || c.Score.CatalogReload != 5*time.Second {
		t.Fatalf("defaults: %+v", c.Score)
	}
	_, err = Load(writeFile(t, `{"Score":{"GPUCatalog":"./gpus.json","CatalogReload":"0s"}}`, 0o600))
	if err == nil || !strings.Contains(err.Error(), "Score.CatalogReload") {
		t.Fatalf("zero reload interval: %v", err)
	}
	t.Setenv("DDN_SCORE_GPUCATALOG", "/etc/ddn/gpus.json")
	t.Setenv("DDN_SCORE_CATALOGRELOAD", "30")
	if c, err = Load(""); err != nil || c.Score.GPUCatalog != "/etc/ddn/gpus.json" || c.Score.CatalogReload != 30*time.Second {
		t.Fatalf("environment: %+v, %v", c.Score, err)
	}
}
