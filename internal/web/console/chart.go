package console

import (
	"context"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// The activity chart: events and denials per UTC day of the explorer's
// range (by default the last chartDefaultDays days), drawn on the server
// as inline SVG markup from the template (no script, no style attribute:
// the classes are styled by console.css), and the top actors or actions.
const (
	chartDefaultDays = 14
	chartTop         = 10
	chartW, chartH   = 720, 180 // the plot area, in SVG units
	chartLeft        = 44       // room for the axis labels
	chartBottom      = 22
)

// chartBar is one day.
type chartBar struct {
	X, W               int
	EventsY, EventsH   int
	DenialsY, DenialsH int
	Label              string // the day, under every few bars
	Title              string // the tooltip: day, events, denials
}

// chartTick is a horizontal grid line with its count.
type chartTick struct {
	Y     int
	Label string
}

// activityChart is what the template draws.
type activityChart struct {
	From, To       string // the range shown (timefmt.Display)
	Default        bool   // the range is the default one (no time filter)
	ViewW, ViewH   int
	PlotX, PlotW   int
	PlotBottom     int
	Bars           []chartBar
	Ticks          []chartTick
	Events, Denied int64
	By             string // actor or action
	Top            []store.AuditCount
	Err            string
}

// activity reads and draws the chart of f's range; the caller has already
// been authorized for the audit log (the list came first).
func (c *console) activity(q *request, fm auditForm, f store.AuditFilter) *activityChart {
	ch := &activityChart{By: fm.By}
	since, until := chartRange(f.Since, f.Until, time.Now())
	ch.Default = f.Since.IsZero() && f.Until.IsZero()
	ch.From, ch.To = timefmt.Display(since), timefmt.Display(until)
	if c.o.AuditStore == nil {
		ch.Err = "The activity chart is not available on this gateway."
		return ch
	}
	if until.Sub(since) > store.MaxActivityDays*24*time.Hour {
		ch.Err = fmt.Sprintf("The chart shows at most %d days; narrow the time range to see it.", store.MaxActivityDays)
		return ch
	}
	f.Since, f.Until = since, until
	ctx, cancel := context.WithTimeout(q.r.Context(), 10*time.Second)
	defer cancel()
	act, err := c.o.AuditStore.AuditActivity(ctx, f, fm.By, chartTop)
	if err != nil {
		c.log.Error("console: audit activity", "err", err, "request_id", q.actor.RequestID)
		ch.Err = "The activity could not be read right now."
		return ch
	}
	ch.Top = act.Top
	ch.draw(since, until, act.Days)
	return ch
}

// chartRange fills in a missing end of the range: the default is the
// last chartDefaultDays UTC days up to the end of today; a range with a
// start only ends chartDefaultDays later (or at the end of today, if
// sooner); one with an end only starts chartDefaultDays earlier.
func chartRange(since, until, now time.Time) (time.Time, time.Time) {
	endOfToday := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	switch {
	case since.IsZero() && until.IsZero():
		until = endOfToday
		since = until.AddDate(0, 0, -chartDefaultDays)
	case until.IsZero():
		until = since.AddDate(0, 0, chartDefaultDays)
		if endOfToday.After(since) && endOfToday.Before(until) {
			until = endOfToday
		}
	case since.IsZero():
		since = until.AddDate(0, 0, -chartDefaultDays)
	}
	return since, until
}

// draw lays out one bar per UTC day touched by [since, until).
func (ch *activityChart) draw(since, until time.Time, days []store.AuditDay) {
	byDay := map[int64]store.AuditDay{}
	var peak int64
	for _, d := range days {
		byDay[d.Day.Unix()] = d
		peak = max(peak, d.Events)
		ch.Events += d.Events
		ch.Denied += d.Denials
	}
	first := since.UTC().Truncate(24 * time.Hour)
	n := int((until.Sub(first) + 24*time.Hour - 1) / (24 * time.Hour))
	n = max(n, 1)
	ch.ViewW, ch.ViewH = chartLeft+chartW+8, chartH+chartBottom+8
	ch.PlotX, ch.PlotW, ch.PlotBottom = chartLeft, chartW, chartH+4
	top := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		v := top * int64(i) / 4
		ch.Ticks = append(ch.Ticks, chartTick{Y: ch.PlotBottom - int(v*chartH/top), Label: fmt.Sprint(v)})
	}
	slot := chartW / n
	gap := max(slot/6, 1)
	labelEvery := max((n+9)/10, 1) // about ten date labels at most
	for i := 0; i < n; i++ {
		day := first.AddDate(0, 0, i)
		d := byDay[day.Unix()]
		b := chartBar{X: chartLeft + i*slot + gap/2, W: max(slot-gap, 1)}
		b.EventsH = int(d.Events * chartH / top)
		b.DenialsH = int(d.Denials * chartH / top)
		if d.Events > 0 && b.EventsH == 0 {
			b.EventsH = 1 // a day with events is never invisible
		}
		if d.Denials > 0 && b.DenialsH == 0 {
			b.DenialsH = 1
		}
		b.EventsY, b.DenialsY = ch.PlotBottom-b.EventsH, ch.PlotBottom-b.DenialsH
		if i%labelEvery == 0 {
			b.Label = day.Format("01-02")
		}
		b.Title = fmt.Sprintf("%s: %d events, %d denied", day.Format("2006-01-02"), d.Events, d.Denials)
		ch.Bars = append(ch.Bars, b)
	}
}

// niceCeil returns the chart's top for a peak: four grid steps, each 1, 2
// or 5 times a power of ten.
func niceCeil(peak int64) int64 {
	need := max((peak+3)/4, 1)
	for p := int64(1); p < 1e17; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= need {
				return 4 * m * p
			}
		}
	}
	return 4 * need
}
