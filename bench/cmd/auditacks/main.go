// Command auditacks checks the crash test's acknowledged mutating calls
// against an audit export: every call the client saw acknowledged (2xx)
// must have its write-ahead "attempt" event in the log, with the same
// method. It also counts their "outcome" events, which are written after the
// rack answered and may be lost with a replica killed in between.
//
//	auditacks -acks acks.txt -export audit.jsonl
//
// acks.txt has one "METHOD PATH REQUEST_ID" a line (bench/cmd/load -mixed);
// audit.jsonl is `rack-gateway audit export --format jsonl`. Exit status 1
// when an acknowledged call has no attempt event.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
)

func main() {
	acks := flag.String("acks", "", "acknowledged calls, one \"METHOD PATH REQUEST_ID\" a line")
	export := flag.String("export", "", "JSONL audit export")
	flag.Parse()
	if *acks == "" || *export == "" {
		log.Fatal("need -acks and -export")
	}
	af, err := os.Open(*acks)
	if err != nil {
		log.Fatal(err)
	}
	defer af.Close()
	ef, err := os.Open(*export)
	if err != nil {
		log.Fatal(err)
	}
	defer ef.Close()
	rep, err := check(af, ef)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep.String())
	if !rep.ok() {
		os.Exit(1)
	}
}
