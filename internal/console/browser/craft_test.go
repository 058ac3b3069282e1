package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsoleIsUsableByKeyboardAndReadable: from the top of the page, Tab
// reaches the skip link first, then the navigation and a run's link, each
// with a visible focus ring, and Enter on the run's link opens the run;
// every piece of text in each view has WCAG AA contrast against what is
// behind it, as the browser computes both.
func TestConsoleIsUsableByKeyboardAndReadable(t *testing.T) {
	t.Parallel()
	s := startSite(t)
	sh := newShop(t)
	const account = "acct_craft"
	key := s.key(t, account)
	charge, _ := s.workflow(t, key, sh.definition(chargeRenewals))
	notify, _ := s.workflow(t, key, sh.definition(notifyBigOrders))
	refund, _ := s.workflow(t, key, sh.definition(refundApproval))
	failed := s.start(t, key, charge, `{"customer": "cus_K8 (Katherine Johnson)"}`)
	succeeded := s.start(t, key, notify, `{"orderId": "A-1042"}`)
	waiting := s.start(t, key, refund, `{"orderId": "R-7781"}`)
	s.settled(t, key, failed, finished)
	s.settled(t, key, succeeded, finished)
	s.settled(t, key, waiting, stepStatus("approve", "waiting"))

	tb := s.newTab(t)
	tb.pasteKey(key)

	t.Run("Tab reaches every control with a visible ring, and Enter follows a link", func(t *testing.T) {
		tb := tb.in(t)
		tb.show("#/runs", "table#runs tr.run")
		// Focus back at the top of the document, as after a page load.
		eval[bool](tb, `(document.activeElement?.blur(), window.getSelection().removeAllRanges(), true)`)
		type focused struct {
			Tag, ID, Href, Class, Text string
			Ring                       bool
		}
		// A focus ring: an outline drawn, or a box-shadow, as computed.
		const current = `(() => {
			const e = document.activeElement;
			if (!e || e === document.body) return null;
			const cs = getComputedStyle(e);
			const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
			return {Tag: e.tagName.toLowerCase(), ID: e.id, Href: e.getAttribute('href') || '',
				Class: e.className && e.className.baseVal === undefined ? e.className : '',
				Text: (e.textContent || e.value || '').trim().slice(0, 40), Ring: ring};
		})()`
		var seen []focused
		runLink := -1
		for i := 0; i < 40 && runLink < 0; i++ {
			tb.do(chromedp.KeyEvent(kb.Tab))
			f := eval[*focused](tb, current)
			if f == nil {
				continue
			}
			seen = append(seen, *f)
			if !f.Ring {
				t.Errorf("Tab stop %d (%s#%s %q) shows no focus ring", i+1, f.Tag, f.ID, f.Text)
			}
			if f.Tag == "a" && strings.HasPrefix(f.Href, "#/runs/run_") {
				runLink = len(seen) - 1
			}
		}
		if len(seen) == 0 || seen[0].Href != "#view" {
			tb.fatalf("the first Tab stop is %+v, want the skip link to #view", seen)
		}
		hrefs := map[string]bool{}
		for _, f := range seen {
			hrefs[f.Href] = true
		}
		for _, nav := range []string{"#/workflows", "#/runs", "#/keys"} {
			if !hrefs[nav] {
				t.Errorf("Tab never reached the %s link: %+v", nav, seen)
			}
		}
		if runLink < 0 {
			tb.fatalf("40 Tab stops never reached a run's link: %+v", seen)
		}
		want := seen[runLink].Href
		tb.do(chromedp.KeyEvent(kb.Enter))
		if _, ok := poll[bool](tb, `location.hash === `+jsString(want)+` && !!document.querySelector('#run-status[data-status]')`, 10*time.Second); !ok {
			tb.fatalf("Enter on %s did not open the run", want)
		}
	})

	// contrastFailures lists the text whose colour, over the background
	// behind it (the first ancestor's that is not transparent, alpha
	// blended), is under 4.5:1, or 3:1 for large text (24 px, or 18.66 px
	// bold). Text over a background image (the hatched waiting bar) is
	// not text the page draws: there is none.
	const contrastFailures = `(() => {
		const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
			const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
		const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
			return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
		const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
		const backdrop = e => { const layers = [];
			for (let n = e; n; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
				if (getComputedStyle(n).backgroundImage !== 'none') return null;
				if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
			return layers.reduceRight((under, top) => over(top, under), [255, 255, 255, 1]); };
		const bad = [];
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let t = walk.nextNode(); t; t = walk.nextNode()) {
			if (!t.textContent.trim()) continue;
			const e = t.parentElement, cs = getComputedStyle(e), r = e.getBoundingClientRect();
			if (cs.visibility === 'hidden' || cs.display === 'none' || r.width === 0 || r.height === 0 || e.closest('[hidden], .visually-hidden, .skip')) continue;
			const bg = backdrop(e); if (!bg) continue;
			const fg = over(parse(cs.color), bg);
			const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
			const ratio = (a + 0.05) / (b + 0.05);
			const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
			const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
			if (ratio < need) bad.push(ratio.toFixed(2) + ' < ' + need + ': ' + JSON.stringify(t.textContent.trim().slice(0, 40)) + ' in ' + e.tagName.toLowerCase() + '.' + e.className);
		}
		return bad;
	})()`
	for _, v := range []struct{ name, hash, sel string }{
		{"workflows", "#/workflows", "table#workflows tr.workflow"},
		{"a workflow", "#/workflows/" + charge, "svg#workflow-graph g.node"},
		{"runs", "#/runs", "table#runs tr.run"},
		{"a failed run", "#/runs/" + failed, "#timeline .bar"},
		{"a waiting run", "#/runs/" + waiting, "#timeline .bar"},
		{"keys", "#/keys", "table#keys tr.key"},
	} {
		t.Run("text has AA contrast in "+v.name, func(t *testing.T) {
			tb := tb.in(t)
			for _, width := range []int64{1280, 360} {
				if width == 360 {
					tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
				} else {
					tb.do(chromedp.EmulateViewport(1280, 860))
				}
				tb.show(v.hash, v.sel)
				// Open every step, so that their text is measured too.
				eval[bool](tb, `(document.querySelectorAll('details').forEach(d => d.open = true), true)`)
				if bad := eval[[]string](tb, contrastFailures); len(bad) > 0 {
					t.Errorf("at %d px, text under AA contrast:\n  %s", width, strings.Join(bad, "\n  "))
				}
			}
			tb.do(chromedp.EmulateViewport(1280, 860))
		})
	}
}
