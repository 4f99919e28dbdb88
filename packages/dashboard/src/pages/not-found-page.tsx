import { Link } from "../components/link.tsx";

export function NotFoundPage() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/">Go to the start page</Link>
      </p>
    </section>
  );
}
