import { get, type Activity, type LiveSession, type Page, type Product } from '../api';
import { useUser } from '../auth';
import { ago } from '../format';
import { ShowNotices, UpcomingShows } from '../upcoming';
import { RecentShows } from '../replay';
import { ErrorNote, Loading, Price, ProductName, Section, SellerName, SignInPrompt, Thumb, useAsync } from '../ui';

function LiveNow() {
  const live = useAsync((signal) => get<Page<LiveSession>>('/api/live/sessions?status=live&limit=12', signal), []);
  return (
    <Section title="Live now" id="live-now" actions={<button type="button" class="ghost small" onClick={live.reload}>Refresh</button>}>
      {live.loading && !live.data && <Loading what="live shows" />}
      <ErrorNote error={live.error} />
      {live.data && live.data.items.length === 0 && <p class="muted">Nobody is live right now. Follow sellers to hear when they go live.</p>}
      <ul class="live-list">
        {live.data?.items.map((s) => (
          <li key={s.id}>
            <a class="live-card" href={`/live/${encodeURIComponent(s.id)}`}>
              <span class="badge live">LIVE</span>
              <strong class="clip">{s.title}</strong>
              <span class="muted small">
                <SellerName id={s.sellerId} /> · {s.viewers.current} watching
              </span>
            </a>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function activityText(a: Activity) {
  const seller = <strong><SellerName id={a.sellerId} /></strong>;
  switch (a.type) {
    case 'NEW_PRODUCT':
      return <>{seller} listed <a href={`/p/${encodeURIComponent(a.productId ?? '')}`}><ProductName id={a.productId ?? ''} /></a></>;
    case 'PRICE_DROP':
      return <>{seller} dropped the price of <a href={`/p/${encodeURIComponent(a.productId ?? '')}`}><ProductName id={a.productId ?? ''} /></a></>;
    case 'LIVE_STARTED':
      return <>{seller} went live: <a href={`/live/${encodeURIComponent(a.sessionId ?? '')}`}>watch now</a></>;
    case 'FLASH_SALE_STARTED':
      return <>{seller} started a flash sale{a.sessionId ? <> in <a href={`/live/${encodeURIComponent(a.sessionId)}`}>their live show</a></> : null}</>;
    default:
      return <>{seller}: {a.type.toLowerCase().replace(/_/g, ' ')}</>;
  }
}

function Following() {
  const user = useUser();
  const feed = useAsync((signal) => (user ? get<Page<Activity>>('/api/me/feed?limit=20', signal) : Promise.resolve(null)), [user?.id]);
  return (
    <Section title="Following" id="feed" actions={user && <button type="button" class="ghost small" onClick={feed.reload}>Refresh</button>}>
      {!user && <SignInPrompt to="to see what the sellers you follow are up to" />}
      {user && feed.loading && !feed.data && <Loading what="your feed" />}
      <ErrorNote error={feed.error} />
      {feed.data && feed.data.items.length === 0 && <p class="muted">Nothing yet. Follow a seller from one of their products.</p>}
      <ul class="feed" data-testid="feed">
        {feed.data?.items.map((a) => (
          <li key={a.id} data-type={a.type}>
            <span>{activityText(a)}</span>
            <time class="muted small" dateTime={a.createdAt}>{ago(a.createdAt)}</time>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Products() {
  const products = useAsync((signal) => get<Page<Product>>('/api/products?limit=24', signal), []);
  return (
    <Section title="Products" id="products">
      {products.loading && !products.data && <Loading what="products" />}
      <ErrorNote error={products.error} />
      <ul class="grid">
        {products.data?.items.map((p) => (
          <li key={p.id}>
            <a class="product-card" href={`/p/${encodeURIComponent(p.id)}`}>
              <Thumb product={p} />
              <span class="clip2">{p.title}</span>
              <Price minor={p.priceMinor} currency={p.currency} />
              <span class="muted small">
                <SellerName id={p.sellerId} />
              </span>
            </a>
          </li>
        ))}
      </ul>
    </Section>
  );
}

export default function Home() {
  return (
    <main id="main" class="page">
      <h1 class="sr-only">Pasar</h1>
      <div class="home">
        <div class="home-side">
          <ShowNotices />
          <LiveNow />
          <UpcomingShows />
          <RecentShows />
          <Following />
        </div>
        <Products />
      </div>
    </main>
  );
}
