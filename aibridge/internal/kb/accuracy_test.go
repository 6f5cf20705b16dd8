package kb

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// demoKnowledge is the sample knowledge base `make run` ships for the demo tenant.
var demoKnowledge = filepath.Join("..", "..", "..", "deploy", "local", "demo", "knowledge")

// paraphrases are customer questions, reworded so that none is written in the knowledge base,
// with the article that answers each. They measure the retrieval, not string matching.
var paraphrases = []struct {
	q, want string
}{
	// English.
	{"how many days until my parcel gets here", "shipping"},
	{"is postage free if I spend enough?", "shipping"},
	{"can you send my order to Canada", "international-shipping"},
	{"do I have to pay import tax on an overseas order", "international-shipping"},
	{"I'd like to follow my package, has it left yet", "order-tracking"},
	{"where can I find the tracking number for my shipment", "order-tracking"},
	{"I want to send back a jacket I bought", "returns"},
	{"how many days do I have to return stuff", "returns"},
	{"still waiting for my money back after returning the shoes", "refunds"},
	{"when does the refund show up on my card", "refunds"},
	{"these trousers are too small, can I get a bigger size instead", "exchanges"},
	{"swap my shirt for a blue one", "exchanges"},
	{"can I pay using apple pay or alipay", "payment-methods"},
	{"do you accept american express", "payment-methods"},
	{"my visa keeps getting rejected at checkout", "payment-declined"},
	{"the payment didn't go through, error at checkout", "payment-declined"},
	{"I ordered by mistake, please cancel it", "cancel-order"},
	{"is it too late to stop my order", "cancel-order"},
	{"I moved, need to update the address on my order", "change-address"},
	{"typo in my delivery address, can you fix it", "change-address"},
	{"how do I register on your site", "create-account"},
	{"can I buy without signing up", "create-account"},
	{"lost my password and can't sign in", "password-reset"},
	{"the reset link for my password never arrived", "password-reset"},
	{"please erase all my personal information", "delete-account"},
	{"I want to close my Acme account for good", "delete-account"},
	{"my headphones broke after six months, is that covered by guarantee", "warranty"},
	{"do you repair faulty products", "warranty"},
	{"what time do you close on saturday", "opening-hours"},
	{"is support open on sunday", "opening-hours"},
	{"can I call someone, what's the number", "contact"},
	{"which email should I write to", "contact"},
	{"the vase was smashed when the box arrived", "damaged-item"},
	{"you sent me the wrong product", "damaged-item"},
	{"my coupon is not accepted at checkout", "discount-codes"},
	{"where do I enter a voucher code", "discount-codes"},
	{"I'd like to buy a gift card for my sister", "gift-cards"},
	{"how much is left on my gift voucher", "gift-cards"},
	{"I need a receipt for my company expenses", "invoice"},
	{"where do I download the bill for my purchase", "invoice"},
	// Chinese.
	{"下单后多久能收到货", "zh-shipping"},
	{"买多少钱可以免运费", "zh-shipping"},
	{"能寄到日本吗", "zh-international"},
	{"海外订单要交进口税吗", "zh-international"},
	{"我的包裹到哪了", "zh-tracking"},
	{"快递单号在哪里看", "zh-tracking"},
	{"衣服不合适想退回去", "zh-returns"},
	{"收货后多少天内可以退", "zh-returns"},
	{"退了货钱怎么还没到账", "zh-refunds"},
	{"退款多久能退回到卡上", "zh-refunds"},
	{"鞋子小了能换大一码吗", "zh-exchanges"},
	{"我想换个颜色", "zh-exchanges"},
	{"可以微信付款吗", "zh-payment"},
	{"你们收不收PayPal", "zh-payment"},
	{"结账时扣款失败了", "zh-payment-declined"},
	{"信用卡付不了款怎么回事", "zh-payment-declined"},
	{"订单下错了想取消", "zh-cancel"},
	{"还没发货能撤销订单吗", "zh-cancel"},
	{"收货地址写错了能改吗", "zh-address"},
	{"搬家了要换个地址", "zh-address"},
	{"新用户怎么开户", "zh-account"},
	{"不注册可以买东西吗", "zh-account"},
	{"密码忘了登不上去", "zh-password"},
	{"找回密码的邮件没收到", "zh-password"},
	{"我要删除账号", "zh-delete-account"},
	{"请清除我的个人数据", "zh-delete-account"},
	{"耳机用了半年坏了能修吗", "zh-warranty"},
	{"质保期是几年", "zh-warranty"},
	{"周六客服上班吗", "zh-hours"},
	{"人工客服几点下班", "zh-hours"},
	{"有没有客服热线", "zh-contact"},
	{"发邮件给你们的地址是什么", "zh-contact"},
	{"快递送来的杯子碎了", "zh-damaged"},
	{"收到的东西和订的不一样", "zh-damaged"},
	{"优惠券在哪里输入", "zh-discount"},
	{"折扣码提示无效", "zh-discount"},
	{"想买张礼品卡送朋友", "zh-giftcards"},
	{"礼品卡还剩多少钱", "zh-giftcards"},
	{"公司报销需要开发票", "zh-invoice"},
	{"在哪里下载收据", "zh-invoice"},
}

// heldOut are paraphrases written after the thresholds and the tokenizer were tuned on
// paraphrases above, and never used to tune anything: they estimate accuracy on questions the
// answerer was not fitted to.
var heldOut = []struct {
	q, want string
}{
	{"what does express delivery cost", "shipping"},
	{"do you deliver to Australia", "international-shipping"},
	{"has my order shipped yet", "order-tracking"},
	{"can I get a return label", "returns"},
	{"how soon is my money refunded", "refunds"},
	{"the shoes don't fit, I need a smaller size", "exchanges"},
	{"is google pay accepted", "payment-methods"},
	{"my bank refused the payment", "payment-declined"},
	{"cancel my purchase please", "cancel-order"},
	{"I need to ship it to my office address instead", "change-address"},
	{"forgot my login password", "password-reset"},
	{"what is the phone number for support", "contact"},
	{"the item in my package is broken", "damaged-item"},
	{"how long is the guarantee on your products", "warranty"},
	{"我的快递什么时候到", "zh-tracking"},
	{"可以退货吗", "zh-returns"},
	{"钱什么时候退给我", "zh-refunds"},
	{"能用银行卡付款吗", "zh-payment"},
	{"怎么取消我的订单", "zh-cancel"},
	{"东西寄错了", "zh-damaged"},
	{"礼品卡有效期多久", "zh-giftcards"},
	{"客服电话多少", "zh-contact"},
	{"要怎么改密码", "zh-password"},
	{"国外能买吗", "zh-international"},
}

// TestHeldOutAccuracy reports top-1 accuracy on the held-out paraphrases. It asserts only a
// floor (70%): it is the honest estimate, not a target to tune against.
//
//	go test ./internal/kb -run TestHeldOutAccuracy -v
func TestHeldOutAccuracy(t *testing.T) {
	ix := loadDemo(t)
	hits, confident := 0, 0
	for _, p := range heldOut {
		res := ix.Answer(p.q)
		if res.Best != nil && res.Best.Article.ID == p.want {
			hits++
			if res.Confident {
				confident++
			}
		} else {
			got := ""
			if res.Best != nil {
				got = res.Best.Article.ID
			}
			t.Logf("miss %q: got %q want %q", p.q, got, p.want)
		}
	}
	t.Logf("held out: top-1 %d/%d = %.1f%%, confident and right %d", hits, len(heldOut), pct(hits, len(heldOut)), confident)
	if pct(hits, len(heldOut)) < 70 {
		t.Errorf("held-out accuracy %.1f%% below 70%%", pct(hits, len(heldOut)))
	}
}

func loadDemo(t testing.TB) *Index {
	t.Helper()
	files, err := Files("", []string{demoKnowledge})
	if err != nil {
		t.Fatal(err)
	}
	var arts []Article
	for _, f := range files {
		as, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, as...)
	}
	if len(arts) < 40 {
		t.Fatalf("demo knowledge base has %d articles, want 40 (20 en + 20 zh)", len(arts))
	}
	return NewIndex(arts)
}

// TestParaphraseAccuracy measures top-1 accuracy of the demo knowledge base on paraphrased
// questions, English and Chinese, and the share answered confidently. BENCHMARKS.md quotes it:
//
//	go test ./internal/kb -run TestParaphraseAccuracy -v
func TestParaphraseAccuracy(t *testing.T) {
	ix := loadDemo(t)
	// No paraphrase may be one of the knowledge base's own questions.
	for _, a := range ix.articles {
		for _, q := range a.Questions {
			for _, p := range paraphrases {
				if strings.EqualFold(strings.TrimSpace(p.q), strings.TrimSpace(q)) {
					t.Fatalf("paraphrase %q is literally in article %s", p.q, a.ID)
				}
			}
		}
	}
	type tally struct{ n, top1, confident, confidentWrong int }
	by := map[string]*tally{"en": {}, "zh": {}}
	for _, p := range paraphrases {
		lang := DetectLanguage(p.q)
		c := by[lang]
		c.n++
		res := ix.Answer(p.q)
		got := ""
		if res.Best != nil {
			got = res.Best.Article.ID
		}
		if got == p.want {
			c.top1++
		} else {
			t.Logf("miss [%s] %q: got %q want %q", lang, p.q, got, p.want)
		}
		if res.Confident {
			c.confident++
			if got != p.want {
				c.confidentWrong++
			}
		}
	}
	var all tally
	for _, lang := range []string{"en", "zh"} {
		c := by[lang]
		all.n += c.n
		all.top1 += c.top1
		all.confident += c.confident
		all.confidentWrong += c.confidentWrong
		t.Logf("%s: top-1 %d/%d = %.1f%%, confident %d (wrong %d)", lang, c.top1, c.n, pct(c.top1, c.n), c.confident, c.confidentWrong)
	}
	t.Logf("all: top-1 %d/%d = %.1f%%, confident %d (wrong %d)", all.top1, all.n, pct(all.top1, all.n), all.confident, all.confidentWrong)
	if all.n < 30 {
		t.Fatalf("only %d paraphrases, want at least 30", all.n)
	}
	for lang, c := range by {
		if pct(c.top1, c.n) < 80 {
			t.Errorf("%s top-1 accuracy %.1f%% is below 80%%", lang, pct(c.top1, c.n))
		}
	}
	// A confident answer that is wrong is worse than an honest "not sure": keep it rare.
	if pct(all.confidentWrong, all.n) > 5 {
		t.Errorf("%d confident wrong answers out of %d", all.confidentWrong, all.n)
	}
}

func pct(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(a) / float64(n)
}

// TestOffTopic checks that questions the knowledge base does not cover are not answered as if
// it did.
func TestOffTopic(t *testing.T) {
	t.Parallel()
	ix := loadDemo(t)
	for _, q := range []string{
		"what is the capital of Mongolia",
		"tell me a joke about penguins",
		"今天天气怎么样",
		"你会写诗吗",
		"do you sell bicycles",
		"what's your favourite colour",
		"我想买手机",
	} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			if res := ix.Answer(q); res.Confident {
				t.Errorf("confident answer %q (coverage %.2f) for off-topic %q", res.Best.Article.ID, res.Best.Coverage, q)
			}
		})
	}
}

func Example_answer() {
	ix := NewIndex([]Article{
		{ID: "returns", Title: "Returns", Answer: "Return unused items within 30 days.", Tags: []string{"send back"}},
		{ID: "refunds", Title: "Refunds", Answer: "We refund within 5 days of receiving your return."},
		{ID: "hours", Title: "Opening hours", Answer: "Monday to Friday, 9:00 to 18:00."},
	})
	r := ix.Answer("how do I send back an item?")
	fmt.Println(r.Confident, r.Best.Article.ID)
	fmt.Println(r.Text())
	// Output:
	// true returns
	// Return unused items within 30 days.
	//
	// (From: Returns)
}
