/** /account : who is signed in, and changing one's own password (every role). */
import type { Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";

const ROLE_WORDS = {
  admin: "Admins can do everything, including managing users.",
  operator: "Operators can change everything except users.",
  viewer: "Viewers can look at everything but change nothing.",
} as const;

export const accountPage: Page = {
  path: "/account",
  get(c, view) {
    const user = c.get("user");
    return view.page(
      c,
      "Your account",
      <>
        <h1>Your account</h1>
        <p>
          Signed in as <strong>{user.username}</strong> ({user.role}). {ROLE_WORDS[user.role]}
        </p>
        <Island of={islands.PasswordChange} props={{ username: user.username }} />
      </>,
    );
  },
};
