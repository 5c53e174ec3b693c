package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// TestHelpOfEveryCommand: ddn, ddn store and ddn healthcheck answer -help
// (and --help) with exit 0, the man sections and every flag they take.
func TestHelpOfEveryCommand(t *testing.T) {
	var s1, s2, a, d, c1, c2 string
	var b, dry bool
	var mh uint64
	var h healthcheckOptions
	for _, c := range []struct {
		args []string
		fs   *flag.FlagSet
	}{
		{[]string{"-help"}, nodeFlags(&s1, &b)},
		{[]string{"--help"}, nodeFlags(&s2, &b)},
		{[]string{"store", "-help"}, storeFlags(&a, &d, &mh)},
		{[]string{"store", "--help"}, storeFlags(&a, &d, &mh)},
		{[]string{"store", "duplicates", "-help"}, storeToolFlags("duplicates", &c1, &dry)},
		{[]string{"store", "merge", "-help"}, storeToolFlags("merge", &c2, &dry)},
		{[]string{"healthcheck", "-help"}, healthcheckFlags(&h)},
		{[]string{"healthcheck", "--help"}, healthcheckFlags(&h)},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != 0 {
			t.Errorf("ddn %v exited %d: %s", c.args, code, errOut.String())
			continue
		}
		help := out.String()
		for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "FLAGS", "ENVIRONMENT", "EXAMPLES", "EXIT STATUS"} {
			if !strings.HasPrefix(help, section+"\n") && !strings.Contains(help, "\n"+section+"\n") {
				t.Errorf("ddn %v: no %s section", c.args, section)
			}
		}
		c.fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(help, "  -"+f.Name+" ") && !strings.Contains(help, "  -"+f.Name+"\n") {
				t.Errorf("ddn %v does not name -%s", c.args, f.Name)
			}
		})
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"store", "-nope"}, {"store", "merge", "-nope"}, {"store", "duplicates", "extra"}, {"healthcheck", "-nope"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("ddn %v: exit %d, stderr %q; want 2 and a message", args, code, errOut.String())
		}
	}
}
