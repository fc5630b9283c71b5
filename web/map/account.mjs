// The account corner of the bar: with sign-in configured, a sign-in button for anonymous
// visitors, and the user's name with a sign-out once signed in; nothing when sign-in is off.
// (The flow itself is signin.mjs.)

/** Shows the account state of `signIn` in `elements` and wires its buttons. */
export function createAccount(signIn, { language, status, elements }) {
  const { box, name, signInButton, signOutButton } = elements;
  box.hidden = !signIn.enabled;
  if (!signIn.enabled) return;
  const user = signIn.user;
  signInButton.hidden = Boolean(user);
  signOutButton.hidden = !user;
  name.hidden = !user;
  if (user) {
    name.textContent = user.name ? `${user.name} (${user.username})` : user.username;
    name.dataset.username = user.username;
  }
  signInButton.addEventListener('click', () => {
    signIn.signIn().catch((e) => status.error(`${language.t('signInFailed')}: ${e.message}`));
  });
  signOutButton.addEventListener('click', () => signIn.signOut());
  if (signIn.error) status.error(`${language.t('signInFailed')}: ${signIn.error.message}`);
}
