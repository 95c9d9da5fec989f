// Applies the theme the user chose (remembered in localStorage) before the
// page paints; without a choice, the CSS follows prefers-color-scheme.
(function () {
  'use strict';
  try {
    var t = window.localStorage.getItem('polybot-theme');
    if (t === 'dark' || t === 'light') {
      document.documentElement.setAttribute('data-theme', t);
    }
  } catch (e) { /* storage disabled: follow the system */ }
})();
