// The demo page shows the embed snippet with this gateway's own address.
const code = document.getElementById('snippet');
if (code) {
  const o = location.origin;
  code.textContent = `<script src="${o}/widget.js" data-tenant="demo" data-gateway="${o}" data-color="#4f46e5" data-greeting="Hi! How can we help?" data-lang="en" async></script>`;
}
