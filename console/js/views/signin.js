// The sign-in page: username and password (Cognito USER_PASSWORD_AUTH), then, for a person an
// administrator just added, the new password Cognito asks for. Errors are announced (role=alert)
// and focus stays where the person can act on them.

import {h, replace} from '../dom.js';

function field({label, name, type, autocomplete, describedBy, minlength}) {
  const id = `field-${name}`;
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    h('input', {id, name, type, autocomplete, required: true, minlength, 'aria-describedby': describedBy, spellcheck: 'false',
      autocapitalize: 'none'}));
}

function card(title, lead, ...content) {
  return h('div', {class: 'signin'},
    h('div', {class: 'signin-card'},
      h('p', {class: 'brand brand-large'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'callscribe'),
      h('h1', {tabindex: '-1'}, title),
      lead ? h('p', {class: 'muted'}, lead) : null,
      ...content));
}

/** Render into `root`; `notice` is shown first (why the person is here, e.g. the session ended). */
export function renderSignIn(root, session, notice) {
  const error = h('p', {class: 'form-error', id: 'signin-error', role: 'alert', hidden: true});
  const info = notice ? h('p', {class: 'notice', role: 'status'}, notice) : null;
  const submit = h('button', {type: 'submit', class: 'button primary wide'}, 'Sign in');
  const form = h('form', {class: 'stack', novalidate: false, 'aria-describedby': 'signin-error'},
    field({label: 'Email or username', name: 'username', type: 'text', autocomplete: 'username'}),
    field({label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', describedBy: 'signin-error'}),
    error,
    submit);

  const showError = (message, focus) => {
    error.textContent = message;
    error.hidden = false;
    focus?.focus();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      showError('Enter your username and password.', username ? form.elements.password : form.elements.username);
      return;
    }
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const result = await session.signIn(username, password);
      if (result.challenge) renderNewPassword(root, session, result.challenge);
      // otherwise the session's 'change' event renders the console
    } catch (failure) {
      form.elements.password.value = '';
      showError(failure.message || 'Sign-in failed.', form.elements.password);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });

  replace(root, card('Sign in', 'The call console for your team.', info, form));
  document.title = 'Sign in · callscribe';
  form.elements.username.focus();
}

function renderNewPassword(root, session, challenge) {
  const error = h('p', {class: 'form-error', id: 'newpass-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'button primary wide'}, 'Set password and sign in');
  const form = h('form', {class: 'stack'},
    field({label: 'New password', name: 'new-password', type: 'password', autocomplete: 'new-password',
      describedBy: 'newpass-rules', minlength: 8}),
    h('p', {class: 'hint', id: 'newpass-rules'}, 'At least 8 characters, with upper- and lower-case letters, a digit and a symbol.'),
    field({label: 'Repeat the new password', name: 'repeat-password', type: 'password', autocomplete: 'new-password'}),
    error,
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const first = form.elements['new-password'].value;
    if (first !== form.elements['repeat-password'].value) {
      error.textContent = 'The two passwords differ.';
      error.hidden = false;
      form.elements['repeat-password'].focus();
      return;
    }
    submit.disabled = true;
    try {
      await session.completeNewPassword(challenge, first);
    } catch (failure) {
      error.textContent = failure.message || 'The new password was refused.';
      error.hidden = false;
      form.elements['new-password'].focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, card('Choose a new password', 'Your account was created with a temporary password. Choose your own to continue.', form));
  root.querySelector('h1').focus();
}
