import { get, type Page, type Product } from '../api';
import { ErrorNote, Loading, Price, Section, SellerName, Thumb, useAsync } from '../ui';
import { ShowNotices, UpcomingShows } from '../upcoming';
import { RecentShows } from '../replay';

/** A seller's page: their upcoming shows (with "Notify me") and their products. */
export default function Seller({ id = '' }: { id?: string }) {
  const products = useAsync((signal) => get<Page<Product>>(`/api/sellers/${encodeURIComponent(id)}/products?limit=24`, signal), [id]);
  return (
    <main id="main" class="page">
      <h1><SellerName id={id} /></h1>
      <div class="home">
        <div class="home-side">
          <ShowNotices />
          <UpcomingShows sellerId={id} />
          <RecentShows sellerId={id} />
        </div>
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
                </a>
              </li>
            ))}
          </ul>
        </Section>
      </div>
    </main>
  );
}
